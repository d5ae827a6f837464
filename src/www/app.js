/*
 * Haven admin UI: one page, hash routes, the same JSON API havenctl uses.
 * No framework and no build step.  Everything the server sends is put in
 * the page with textContent, never parsed as HTML.
 */
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const S = window.sessionStorage;
  let csrf = S.getItem('haven.csrf');
  let user = S.getItem('haven.user');
  let idleS = Number(S.getItem('haven.idle')) || 1800;
  let gen = 0;            /* bumps on every page change: stale loads stop */
  let timer = null;       /* the current page's refresh */
  let flash = null;       /* a message for the next page shown */
  let lastActivity = Date.now();

  /* --- small helpers */

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    add(e, kids);
    return e;
  }
  function add(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  /* replaceChildren, skipping the nulls optional parts leave. */
  function put(e, ...kids) { e.replaceChildren(); return add(e, kids); }
  const plural = (n, w) => n + ' ' + w + (n === 1 ? '' : 's');

  function when(iso, secs) {
    if (!iso) return null;
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toLocaleString(undefined, { year: 'numeric', month: 'short',
      day: 'numeric', hour: '2-digit', minute: '2-digit', second: secs ? '2-digit' : undefined });
  }
  function ago(iso) {
    if (!iso) return 'never';
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (isNaN(s)) return iso;
    if (s < 5) return 'just now';
    if (s < 0) return 'in the future (check the clocks)';
    return duration(s) + ' ago';
  }
  function duration(s) {
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h';
  }
  function bytes(n) {
    if (typeof n !== 'number') return '?';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
  }
  const time = (iso, secs) => iso ? h('time', { datetime: iso, title: iso, text: when(iso, secs) }) : h('span', { class: 'muted', text: '—' });
  const pill = (cls, text) => h('span', { class: 'pill ' + cls, text });

  /* What failed, the API's reason (which says what to do), and a hint. */
  const hints = {
    bad_credentials: 'Check the user name and the password (is Caps Lock on?), then try again.',
    locked: 'Wait until the lock ends, then sign in with the right password. On the appliance, ' +
      '"havenctl user add NAME --password-file FILE" sets a new password and lifts the lock.',
    http_404: 'This version of havend may not have that page yet.',
    not_found: 'It may have been removed meanwhile (another tab, or havenctl): reload the page.',
    database_unavailable: 'The Dashboard says why the database is down; try again once it is up.',
  };
  function sentence(t) {
    t = String(t).trim();
    if (!t) return t;
    if (!/^[a-z]+[A-Z]/.test(t)) t = t[0].toUpperCase() + t.slice(1);   /* not vSphere */
    return /[.!?):]$/.test(t) ? t : t + '.';
  }
  function msg(kind, title, text, hint) {
    return h('div', { class: 'msg ' + kind, role: kind === 'error' ? 'alert' : 'status' },
      title ? h('strong', { text: title }) : null, text ? sentence(text) : null, hint ? [' ', hint] : null);
  }
  function errorMsg(what, err, hint) {
    hint = hint || hints[err.code];
    return msg('error', what, err.message, hint ? h('span', { class: 'hint', text: hint }) : null);
  }

  /* --- the API */

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(method, path, body) {
    const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && csrf) opts.headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, 'network', 'Haven did not answer (' + e.message + '). Check the network ' +
        'between you and the appliance and that havend is running, then try again.');
    }
    let j = null;
    try { j = await res.json(); } catch (e) { j = null; }
    if (!res.ok) {
      const e = j && j.error ? j.error : { code: 'http_' + res.status, message: 'havend answered ' +
        res.status + ' ' + res.statusText + ' without a reason. Try again; if it persists, the ' +
        'appliance log (journalctl -u havend) says more.' };
      if (res.status === 401 && e.code === 'not_signed_in') sessionEnded(e.message);
      /* Signing in again in another tab replaced this tab's session. */
      if (res.status === 403 && e.code === 'csrf') sessionEnded('this tab\'s sign-in no longer matches the ' +
        'browser\'s session (did another tab sign in?). Sign in again here');
      throw new ApiError(res.status, e.code, e.message);
    }
    return j || {};
  }

  /* --- session */

  function saveSession(s) {
    csrf = s.csrf_token; user = s.user; idleS = s.idle_timeout_s || 1800;
    S.setItem('haven.csrf', csrf); S.setItem('haven.user', user); S.setItem('haven.idle', String(idleS));
  }
  function clearSession() {
    csrf = null; user = null;
    S.removeItem('haven.csrf'); S.removeItem('haven.user'); S.removeItem('haven.idle');
  }
  function sessionEnded(reason) {
    if (!csrf) return;
    clearSession();
    showSignin(msg('warn', 'Your session has ended.', reason));
  }

  function showSignin(note) {
    gen++;
    stopTimer();
    $('#top').hidden = true;
    $('#view').hidden = true;
    $('#view').replaceChildren();
    delete $('#view').dataset.page;
    $('#signin').hidden = false;
    document.title = 'Sign in · Haven';
    const m = $('#signin-msg');
    put(m);
    m.hidden = !note;
    if (note) m.append(note);
    const name = $('#signin-name');
    (name.value ? $('#signin-password') : name).focus();
  }

  async function signin(ev) {
    ev.preventDefault();
    const name = $('#signin-name').value.trim(), pw = $('#signin-password').value;
    const m = $('#signin-msg'), b = $('#signin-submit');
    if (!name || !pw) {
      put(m, msg('error', 'Sign-in needs both fields.', 'Enter your user name and password.'));
      m.hidden = false;
      return;
    }
    b.disabled = true;
    b.textContent = 'Signing in…';
    try {
      saveSession(await api('POST', '/api/v1/session', { name, password: pw }));
      $('#signin-password').value = '';
      m.hidden = true;
      if (!location.hash || location.hash === '#/signin') location.hash = '#/dashboard';
      else route();
    } catch (e) {
      put(m, errorMsg(e.status === 429 ? 'Sign-in refused: the account is locked.' : 'Sign-in failed.', e));
      m.hidden = false;
      $('#signin-password').select();
    } finally {
      b.disabled = false;
      b.textContent = 'Sign in';
    }
  }

  async function signout() {
    try {
      await api('DELETE', '/api/v1/session');
    } catch (e) {
      if (e.code !== 'not_signed_in') {
        flash = errorMsg('Signing out failed.', e);
        return route();
      }
    }
    clearSession();
    showSignin(msg('ok', 'You are signed out.', 'Close the browser tab, or sign in again.'));
  }

  /* --- confirmation */

  function confirmDialog(title, text, ok, danger) {
    const d = $('#confirm');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    const b = $('#confirm-ok');
    b.textContent = ok;
    b.className = danger ? 'danger' : 'primary';
    d.returnValue = '';
    d.showModal();
    $('#confirm-cancel').focus();
    return new Promise((resolve) => {
      d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    });
  }

  /* --- pages */

  function stopTimer() { if (timer) clearTimeout(timer); timer = null; }
  /* Refresh while someone is there: an open tab alone must not keep the
   * session from its idle timeout. */
  function every(ms, g, fn) {
    stopTimer();
    timer = setTimeout(() => {
      if (g !== gen) return;
      const active = Date.now() - lastActivity < (idleS - 60) * 1000;
      if (document.visibilityState === 'visible' && active) fn();
      else every(ms, g, fn);
    }, ms);
  }

  function head(title, sub, ...extra) {
    return h('div', { class: 'pagehead' }, h('h1', { text: title }), sub ? h('span', { class: 'muted', text: sub }) : null, extra);
  }
  const updated = () => 'Updated ' + new Date().toLocaleTimeString();

  function card(title, badge, ...body) {
    return h('section', { class: 'card' }, h('h2', {}, h('span', { text: title }), badge), body);
  }
  function kv(pairs) {
    return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)]));
  }
  function table(cols, rows, empty) {
    if (!rows.length) return h('p', { class: 'empty', text: empty });
    return h('div', { class: 'tablewrap' }, h('table', {},
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: c })))),
      h('tbody', {}, rows)));
  }

  const machineStatus = {
    connected: ['ok', 'Connected'],
    disconnected: ['bad', 'Disconnected'],
    enrolled: ['warn', 'Enrolled, no heartbeat yet'],
    revoked: ['', 'Revoked'],
  };
  const statusPill = (s) => pill(...(machineStatus[s] || ['', s || 'unknown']));
  const dbStates = { up: 'ok', connecting: 'warn', down: 'bad', error: 'bad' };

  function certPill(c) {
    if (!c || c.error) return pill('bad', 'Unreadable');
    if (c.days_left <= 0) return pill('bad', 'Expired');
    if (c.warning) return pill('warn', 'Expires in ' + plural(c.days_left, 'day'));
    return pill('ok', 'Valid');
  }

  /* Dashboard. */

  async function dashboard(v, g) {
    const [st, ms, al, sto, hvs] = await Promise.allSettled([
      api('GET', '/api/v1/status'), api('GET', '/api/v1/machines'),
      api('GET', '/api/v1/alerts'), api('GET', '/api/v1/storage'), api('GET', '/api/v1/hypervisors')]);
    if (g !== gen) return;
    const s = st.value, machines = ms.value ? ms.value.machines : null;
    const cards = [];

    /* Configuration server. */
    if (s) {
      const problems = [];
      if (s.database.state !== 'up') problems.push('the database is ' + s.database.state +
        (s.database.error ? ': ' + s.database.error : ''));
      for (const w of s.workers || []) if (w.state !== 'running')
        problems.push('worker slot ' + w.slot + ' (' + w.kind + ') is ' + w.state);
      if (s.certificate && s.certificate.days_left <= 0) problems.push('the server certificate has expired');
      cards.push(h('section', { class: 'card', id: 'card-cs' },
        h('h2', {}, h('span', { text: 'Configuration server' }),
          h('span', { id: 'cs-health' }, problems.length ? pill('bad', 'Degraded') : pill('ok', 'Healthy'))),
        problems.length ? msg('error', 'Needs attention:', problems.join('; ') + '.',
          'The worker and database details below show more; the appliance log has the rest.') : null,
        kv([['Version', s.version], ['Roles', (s.roles || []).join(', ')],
          ['Up for', duration(s.uptime_s)], ['Started', time(s.started_at)],
          ['Admin port', s.listen_address + ':' + s.ports.admin],
          ['Agents connect to', s.listen_address + ':' + s.ports.control + ' (control), :' + s.ports.data + ' (data)']])));
    } else cards.push(card('Configuration server', pill('bad', 'Unknown'), errorMsg('Could not read the status.', st.reason)));

    /* Process servers: the one built in, and scale-out ones. */
    {
      const rows = [];
      if (s && (s.roles || []).includes('ps')) {
        const shards = (s.workers || []).filter((w) => w.kind === 'shard');
        const up = shards.filter((w) => w.state === 'running').length;
        const restarts = shards.reduce((n, w) => n + w.restarts, 0);
        rows.push(h('tr', {}, h('td', {}, 'This appliance', h('span', { class: 'sub', text: 'built in' })),
          h('td', {}, up === shards.length && up > 0 ? pill('ok', 'Healthy') : pill('bad', 'Degraded')),
          h('td', { text: up + ' of ' + plural(shards.length, 'shard') + ' running' + (restarts ? ', ' + plural(restarts, 'restart') : '') })));
      }
      for (const m of (machines || []).filter((x) => x.role === 'ps'))
        rows.push(h('tr', {}, h('td', { text: m.hostname }), h('td', {}, statusPill(m.status)),
          h('td', { text: 'last contact ' + ago(m.last_heartbeat) })));
      cards.push(card('Process servers', null, table(['Server', 'Health', 'Detail'], rows,
        'No process server: this appliance does not run the ps role and none has enrolled.')));
    }

    /* Agents. */
    if (machines) {
      const agents = machines.filter((m) => m.role === 'agent');
      const n = (st) => agents.filter((m) => m.status === st).length;
      const shown = agents.filter((m) => m.status !== 'revoked').slice(0, 8);
      cards.push(h('section', { class: 'card', id: 'card-agents' },
        h('h2', {}, h('span', { text: 'Agents' }), h('a', { href: '#/machines', text: 'All machines' })),
        h('div', { class: 'counts' },
          h('div', {}, h('span', { class: 'big', text: n('connected') }), h('span', { class: 'l', text: 'Connected' })),
          h('div', {}, h('span', { class: 'big', text: n('disconnected') }), h('span', { class: 'l', text: 'Disconnected' })),
          n('enrolled') ? h('div', {}, h('span', { class: 'big', text: n('enrolled') }), h('span', { class: 'l', text: 'No heartbeat yet' })) : null,
          n('revoked') ? h('div', {}, h('span', { class: 'big', text: n('revoked') }), h('span', { class: 'l', text: 'Revoked' })) : null),
        table(['Machine', 'Status', 'Last contact'], shown.map((m) => h('tr', { 'data-id': m.id },
          h('td', { text: m.hostname }), h('td', {}, statusPill(m.status)),
          h('td', {}, h('span', { title: m.last_heartbeat || '', text: ago(m.last_heartbeat) }))),
        ), 'No agent has enrolled yet. On a machine to protect, run "haven-agent enroll --cs ' +
          (s ? s.listen_address + ':' + s.ports.control : 'CS:443') + ' --passphrase-file FILE".'),
        agents.length > shown.length ? h('p', { class: 'fine muted' }, 'More on the ', h('a', { href: '#/machines', text: 'Machines' }), ' page.') : null));
    } else cards.push(card('Agents', pill('bad', 'Unknown'), errorMsg('Could not list the machines.', ms.reason)));

    /* Certificates. */
    if (s) {
      const c = s.certificate, ca = s.ca;
      cards.push(h('section', { class: 'card', id: 'card-cert' },
        h('h2', {}, h('span', { text: 'Certificate' }), certPill(c)),
        c.error ? msg('error', 'The server certificate cannot be read.', c.error) : null,
        c.warning ? msg('warn', null, c.warning + '.', h('span', {}, 'Or renew it on the ', h('a', { href: '#/certificates', text: 'Certificates' }), ' page.')) : null,
        kv([['Server certificate', c.error ? '—' : h('span', {}, 'valid until ', time(c.not_after), ' (' + plural(c.days_left, 'day') + ' left)')],
          ['Site CA', ca.error ? ca.error : h('span', {}, 'valid until ', time(ca.not_after), ' (' + plural(ca.days_left, 'day') + ' left)')]])));

      const d = s.database;
      cards.push(h('section', { class: 'card', id: 'card-db' },
        h('h2', {}, h('span', { text: 'Database' }), pill(dbStates[d.state] || 'bad', d.state)),
        d.error ? msg(d.state === 'up' ? 'warn' : 'error', null, d.error) : null,
        kv([['Server', d.host + ':' + d.port], ['Database', d.name],
          ['Schema version', d.schema_version === undefined ? '—' : String(d.schema_version)],
          d.since ? ['Since', time(d.since)] : null])));
    }

    /* Alerts. */
    if (al.value) {
      const sev = { critical: 'bad', warning: 'warn', info: '' };
      const list = al.value.alerts || [];
      cards.push(card('Open alerts', list.length ? pill('warn', String(list.length)) : pill('ok', 'None'),
        list.length ? h('ul', { class: 'plain' }, list.map((a) => h('li', {}, pill(sev[a.severity] || '', a.severity), ' ',
          a.message, h('span', { class: 'sub muted', text: 'raised ' + ago(a.raised_at) })))) :
          h('p', { class: 'empty', text: 'No open alerts.' })));
    } else cards.push(card('Open alerts', pill('bad', 'Unknown'), errorMsg('Could not list the alerts.', al.reason)));

    /* Cache and retention disks. */
    if (sto.value) {
      const items = ['cache', 'retention'].map((k) => {
        const d = sto.value[k] || {};
        const name = h('strong', { text: k === 'cache' ? 'Cache' : 'Retention' });
        if (d.error) return h('li', { id: 'disk-' + k }, name, msg('error', null, (d.path || '') + ': ' + d.error));
        const used = d.used_bytes, all = (d.used_bytes + d.free_bytes) || 1;
        return h('li', { id: 'disk-' + k }, h('div', { class: 'bar' }, name,
          h('meter', { min: 0, max: all, value: used, low: all * 0.7, high: all * 0.85, optimum: 0 }),
          Math.round(100 * used / all) + '% used'),
        h('span', { class: 'sub', text: bytes(d.free_bytes) + ' free of ' + bytes(d.size_bytes) }),
        h('span', { class: 'sub mono', text: d.path + (d.exists === false ? ' (not created yet: figures are for the file system it will be on)' : '') }));
      });
      cards.push(card('Cache and retention disks', null, h('ul', { class: 'plain disks' }, items)));
    } else cards.push(card('Cache and retention disks', pill('bad', 'Unknown'), errorMsg('Could not read the disk usage.', sto.reason)));

    /* Hypervisor servers. */
    if (hvs.value) {
      const list = hvs.value.hypervisors || [];
      const bad = list.filter((x) => x.status === 'error' || x.status === 'pending').length;
      cards.push(h('section', { class: 'card', id: 'card-hypervisors' },
        h('h2', {}, h('span', { text: 'Hypervisor servers' }), h('a', { href: '#/hypervisors', text: 'All servers' })),
        bad ? msg('warn', null, plural(bad, 'server') + ' need' + (bad === 1 ? 's' : '') + ' attention: an error, or a ' +
          'thumbprint to accept on the Hypervisors page.') : null,
        table(['Server', 'Status', 'Last discovery'], list.slice(0, 8).map((x) => h('tr', { 'data-name': x.name },
          h('td', {}, h('a', { href: '#/hypervisors/' + x.id, text: x.name }), h('span', { class: 'sub', text: plural(x.vm_count, 'machine') })),
          h('td', {}, hvPill(x, null),
            x.status === 'error' && x.error ? h('span', { class: 'sub error-text', text: x.error.length > 120 ? x.error.slice(0, 117) + '…' : x.error }) : null),
          h('td', { text: ago(x.last_discovery) }))),
        'None yet: add vCenter, ESXi or KVM hosts on the Hypervisors page to discover their machines.')));
    } else cards.push(card('Hypervisor servers', pill('bad', 'Unknown'), errorMsg('Could not list the hypervisor servers.', hvs.reason)));

    /* Workers. */
    if (s) {
      const ws = s.workers || [];
      const restarts = ws.reduce((n, w) => n + w.restarts, 0);
      cards.push(h('section', { class: 'card wide', id: 'card-workers' },
        h('h2', {}, h('span', { text: 'Worker processes' }), restarts ? pill('warn', plural(restarts, 'restart')) : pill('ok', 'No restarts')),
        table(['Slot', 'Kind', 'PID', 'State', 'Restarts', 'Last exit', 'Started'], ws.map((w) => h('tr', {},
          h('td', { text: w.slot }), h('td', { text: w.kind }), h('td', { text: w.pid > 0 ? w.pid : '—' }),
          h('td', {}, pill(w.state === 'running' ? 'ok' : 'bad', w.state)),
          h('td', {}, w.restarts ? pill('warn', String(w.restarts)) : '0'),
          h('td', { text: w.last_exit || '—' }), h('td', {}, time(w.started_at)))), 'No worker information.')));
    }

    put(v, head('Dashboard', updated()), h('div', { class: 'grid' }, cards));
    every(15000, g, () => dashboard(v, g));
  }

  /* Machines. */

  /* Durations as havenctl takes them: 90, 15m, 2h, 1d. */
  function dur(s) {
    if (s === null || s === undefined) return '—';
    if (s === 0) return '0';
    for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60]]) if (s % n === 0) return (s / n) + u;
    return s + 's';
  }
  function parseDur(t) {
    t = String(t).trim().toLowerCase();
    const m = t.match(/^(\d+)\s*(s|m|min|h|d)?$/);
    if (!m) return NaN;
    return Number(m[1]) * ({ s: 1, m: 60, min: 60, h: 3600, d: 86400 }[m[2] || 's']);
  }
  function rpoPill(r) {
    if (!r) return pill('', 'unknown');
    if (r.rpo_s === null || r.rpo_s === undefined) return pill('', 'no point yet');
    const over = r.rpo_threshold_s !== null && r.rpo_threshold_s !== undefined && r.rpo_s > r.rpo_threshold_s;
    return pill(over ? 'bad' : 'ok', 'RPO ' + duration(r.rpo_s) +
      (r.rpo_threshold_s ? (over ? ' > ' : ' ≤ ') + duration(r.rpo_threshold_s) : ''));
  }
  const diskStates = { 'initial-sync': ['warn', 'Initial sync'], protected: ['ok', 'Protected'],
    resyncing: ['warn', 'Resyncing'], paused: ['', 'Paused'], error: ['bad', 'Error'] };
  const pendingPolicy = {};   /* machine id → policy chosen but not yet assigned */

  function diskLine(d) {
    const [cls, label] = diskStates[d.state] || ['', d.state || 'unknown'];
    const moving = d.state === 'initial-sync' || d.state === 'resyncing';
    const pct = typeof d.percent === 'number' ? d.percent : null;
    return h('li', { class: 'disk', 'data-disk': d.disk, 'data-state': d.state },
      h('div', { class: 'bar' }, h('span', { class: 'mono dname', text: d.disk }), pill(cls, label),
        moving && pct !== null ? [h('progress', { max: 100, value: pct }), h('span', { class: 'pct', text: pct + '%' })] : null,
        moving && typeof d.eta_s === 'number' ? h('span', { class: 'eta muted', text: 'about ' + duration(d.eta_s) + ' left' }) : null),
      h('span', { class: 'sub', text: bytes(d.bytes_sent) + ' sent' +
        (d.bytes_applied > 0 ? ', ' + bytes(d.bytes_applied) + ' applied' : '') +
        (d.updated_at ? ', reported ' + ago(d.updated_at) : '') }),
      d.error ? h('span', { class: 'error-text', text: sentence(d.error) }) : null);
  }

  function replPanel(m, r, err, pols) {
    if (m.role !== 'agent') return h('p', { class: 'muted fine', text: 'A process server: it receives replication, it is not protected itself.' });
    if (m.status === 'revoked') return h('p', { class: 'muted fine', text: 'Revoked: not replicating.' });
    if (err) return errorMsg('Could not read the replication state of ' + m.hostname + '.', err);
    const cur = r.policy ? r.policy.name : null;
    const sel = h('select', { class: 'policy-select', 'aria-label': 'Policy for ' + m.hostname },
      cur ? null : h('option', { value: '', text: '(none)' }),
      pols.map((p) => h('option', { value: p.name, text: p.name + (p.is_failback ? ' (failback)' : '') })));
    sel.value = pendingPolicy[m.id] !== undefined ? pendingPolicy[m.id] : (cur || '');
    const btn = h('button', { type: 'button', class: 'assign', text: 'Assign' });
    const sync = () => { btn.disabled = !sel.value || sel.value === cur; };
    sel.addEventListener('change', () => { pendingPolicy[m.id] = sel.value; sync(); });
    sync();
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const a = await api('POST', '/api/v1/machines/' + encodeURIComponent(m.id) + '/policy', { policy: sel.value });
        const pn = a.policy && typeof a.policy === 'object' ? a.policy.name : a.policy;
        flash = msg('ok', m.hostname + ' now follows the policy ' + pn + '.', (a.was ? 'It followed ' + a.was + ' before. ' : '') +
          'Its agent picks the settings up at its next heartbeat.');
      } catch (e) {
        flash = errorMsg('Assigning the policy to ' + m.hostname + ' failed.', e);
      }
      delete pendingPolicy[m.id];
      route();
    });
    const ds = r.disk_state || [];
    return h('div', { class: 'repl' },
      h('div', { class: 'actions policy' }, h('strong', { text: 'Policy' }), sel, btn,
        r.policy ? h('span', { class: 'muted fine', text: 'a point every ' + duration(r.policy.crash_interval_s) +
          ', RPO threshold ' + duration(r.policy.rpo_threshold_s) + ', points kept ' + dur(r.policy.retention_s) }) :
          h('span', { class: 'muted fine', text: 'No policy: choose one to protect this machine.' }),
        h('span', { class: 'rpo' }, rpoPill(r)),
        h('a', { href: '#/points/' + encodeURIComponent(m.id), text: 'Recovery points' })),
      ds.length ? h('ul', { class: 'plain disks' }, ds.map(diskLine)) :
        h('p', { class: 'muted fine no-repl', text: 'No replication reported yet: start "haven-agent replicate" on ' +
          m.hostname + ' (its disks show here once it reports).' }),
      ds.length ? historyChart(m) : null);
  }
  /* The 24 h chart of RPO and change rate (chart.js). */
  function historyChart(m) {
    const box = h('div', { class: 'chart', 'data-chart': m.id });
    window.HavenChart.show(box, m.id, () => api('GET', '/api/v1/machines/' + encodeURIComponent(m.id) + '/history?hours=24'));
    return box;
  }

  async function machines(v, g) {
    let list, pols = [];
    try {
      const [ml, pl] = await Promise.all([api('GET', '/api/v1/machines'),
        api('GET', '/api/v1/policies').catch(() => ({ policies: [] }))]);
      list = ml.machines;
      pols = pl.policies || [];
    } catch (e) {
      if (g === gen) put(v, head('Machines'), errorMsg('Could not list the machines.', e));
      return every(15000, g, () => machines(v, g));
    }
    const repl = await Promise.all(list.map((m) => m.role === 'agent' && m.status !== 'revoked' ?
      api('GET', '/api/v1/machines/' + encodeURIComponent(m.id) + '/replication').then((r) => [r, null], (e) => [null, e]) :
      Promise.resolve([null, null])));
    if (g !== gen) return;
    /* Not while a policy list is open: redrawing would close it. */
    const f = document.activeElement;
    if (f && f.tagName === 'SELECT' && v.contains(f)) return every(3000, g, () => machines(v, g));
    let busy = false;
    const rows = list.map((m, i) => {
      const inv = m.inventory || {};
      const disks = Array.isArray(inv.disks) ? inv.disks : [];
      const [r, err] = repl[i];
      if (r && (r.disk_state || []).some((d) => d.state === 'initial-sync' || d.state === 'resyncing')) busy = true;
      return [h('tr', { 'data-id': m.id, class: 'machine' },
        h('td', {}, h('strong', { text: m.hostname }), h('span', { class: 'sub mono', title: m.id, text: m.id.slice(0, 8) + '…' })),
        h('td', { text: m.role === 'ps' ? 'process server' : m.role }),
        h('td', {}, statusPill(m.status)),
        h('td', {}, h('span', { title: m.last_heartbeat || '', text: ago(m.last_heartbeat) })),
        h('td', {}, m.address || '—', Array.isArray(inv.addresses) && inv.addresses.length ?
          h('span', { class: 'sub', text: inv.addresses.join(', ') }) : null),
        h('td', {}, inv.os || '—', inv.kernel ? h('span', { class: 'sub', text: inv.kernel }) : null,
          inv.agent_version ? h('span', { class: 'sub', text: 'agent ' + inv.agent_version }) : null),
        h('td', {}, disks.length ? h('ul', { class: 'plain' }, disks.map((d) => h('li', {}, h('span', { class: 'mono', text: d.name }), ' ' + bytes(d.size)))) :
          h('span', { class: 'muted', text: 'none reported' })),
        h('td', {}, time(m.cert_not_after)),
        h('td', {}, m.status === 'revoked' ? h('span', { class: 'muted' }, 'revoked ', time(m.revoked_at)) :
          h('button', { type: 'button', text: 'Revoke', onclick: () => revoke(m) }))),
      h('tr', { class: 'replrow', 'data-repl': m.id }, h('td', { colspan: 9 }, replPanel(m, r, err, pols)))];
    });
    put(v, head('Machines', updated()), flashMsg(),
      h('section', { class: 'card' }, table(['Machine', 'Role', 'Status', 'Last contact', 'Address', 'System', 'Disks',
        'Certificate until', ''], rows,
      'No machine has enrolled yet. On a machine to protect, run "haven-agent enroll --cs CS:PORT --passphrase-file FILE" ' +
        '(the passphrase is on the Passphrase page).')),
      h('p', { class: 'muted fine', text: 'The achieved RPO is the age of the newest recovery point; it turns red above the ' +
        'policy\'s threshold. The chart under a replicating machine shows its RPO and change rate over the last 24 hours.' }));
    every(busy ? 3000 : 15000, g, () => machines(v, g));
  }

  async function revoke(m) {
    if (!await confirmDialog('Revoke ' + m.hostname + '?', 'Its certificate goes on the revocation list: it can no ' +
      'longer send heartbeats or data until it is enrolled again.', 'Revoke', true)) return;
    try {
      await api('POST', '/api/v1/machines/' + encodeURIComponent(m.id) + '/revoke');
      flash = msg('ok', m.hostname + ' is revoked.', 'Enroll it again to protect it.');
    } catch (e) {
      flash = errorMsg('Revoking ' + m.hostname + ' failed.', e);
    }
    route();
  }
  function flashMsg() { const f = flash; flash = null; return f; }

  /* Policies. */

  const polFields = [
    ['crash_interval_s', 'Point every', 'crash-consistent interval: 10s to 1d', '5m'],
    ['rpo_threshold_s', 'RPO threshold', 'alert above it: 10s to 7d, at least the interval', '15m'],
    ['retention_s', 'Keep points for', '10s to 30d, at least the interval', '1d'],
    ['app_consistent_s', 'App-consistent every', '0 = none, or 1m to 1d', '4h'],
    ['thin_after_s', 'Thin points older than', '0 = never, or 1m to 30d', '2h'],
    ['thin_every_s', 'Keeping one every', '1m to 1d', '1h'],
  ];

  async function policies(v, g) {
    let list;
    try {
      list = (await api('GET', '/api/v1/policies')).policies;
    } catch (e) {
      if (g === gen) put(v, head('Policies'), errorMsg('Could not list the policies.', e));
      return;
    }
    if (g !== gen) return;
    const out = h('div', { id: 'policy-msg' }, flashMsg());
    const name = h('input', { id: 'pol-name', autocomplete: 'off', maxlength: 55, placeholder: 'e.g. gold' });
    const inputs = {};
    const fields = polFields.map(([k, label, range, def]) => {
      inputs[k] = h('input', { id: 'pol-' + k, class: 'dur', autocomplete: 'off', placeholder: def });
      return h('div', { class: 'field' }, h('label', { for: 'pol-' + k, text: label }), inputs[k],
        h('span', { class: 'sub', text: range }));
    });
    let editing = null;
    const title = h('h2', { text: 'New policy' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'pol-submit', text: 'Create the policy' });
    const cancel = h('button', { type: 'button', text: 'Cancel', hidden: true });
    const form = h('form', { id: 'policy-form', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'pol-name', text: 'Name' }), name,
        h('span', { class: 'sub', text: 'letters, digits, . _ -; a NAME-failback twin is made too' })),
      h('div', { class: 'fields' }, fields),
      h('p', { class: 'muted fine', text: 'Durations: 90 (seconds), 15m, 2h, 1d. Empty fields take the defaults shown.' }),
      h('div', { class: 'actions' }, submit, cancel));
    const reset = () => {
      editing = null;
      form.reset();
      name.disabled = false;
      title.textContent = 'New policy';
      submit.textContent = 'Create the policy';
      cancel.hidden = true;
      for (const [k, , , def] of polFields) inputs[k].placeholder = def;
    };
    const edit = (p) => {
      editing = p;
      name.value = p.name;
      name.disabled = true;
      for (const [k] of polFields) { inputs[k].value = dur(p[k]); inputs[k].placeholder = ''; }
      title.textContent = 'Edit ' + p.name;
      submit.textContent = 'Save ' + p.name;
      cancel.hidden = false;
      put(out);
      form.scrollIntoView({ block: 'nearest' });
      inputs.crash_interval_s.focus();
    };
    cancel.addEventListener('click', reset);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {};
      if (!editing) {
        body.name = name.value.trim();
        if (!body.name) return put(out, msg('error', 'The policy needs a name.', 'Enter one, e.g. gold.'));
      }
      for (const [k, label] of polFields) {
        const t = inputs[k].value.trim();
        if (!t) continue;
        const n = parseDur(t);
        if (isNaN(n)) return put(out, msg('error', label + ': "' + t + '" is not a duration.', 'Write it as 90, 15m, 2h or 1d.'));
        body[k] = n;
      }
      submit.disabled = true;
      try {
        if (editing) {
          await api('PUT', '/api/v1/policies/' + encodeURIComponent(editing.id), body);
          flash = msg('ok', 'The policy ' + editing.name + ' is saved.', 'Machines following it get the new settings at their next heartbeat.');
        } else {
          const r = await api('POST', '/api/v1/policies', body);
          flash = msg('ok', 'The policies ' + r.policy.name + ' and ' + r.failback.name + ' are created.',
            'Assign ' + r.policy.name + ' to machines on the Machines page.');
        }
        if (g === gen) policies(v, g);
      } catch (e) {
        put(out, errorMsg(editing ? 'The policy ' + editing.name + ' was not saved.' : 'The policy was not created.', e));
        submit.disabled = false;
      }
    });
    const del = async (p) => {
      if (!await confirmDialog('Delete ' + p.name + '?', 'The policy and its failback twin are deleted. Their recovery ' +
        'points stay until retention drops them.', 'Delete', true)) return;
      try {
        const r = await api('DELETE', '/api/v1/policies/' + encodeURIComponent(p.id));
        flash = msg('ok', 'Deleted ' + (r.deleted || [p.name]).join(' and ') + '.');
      } catch (e) {
        flash = errorMsg('The policy ' + p.name + ' was not deleted.', e);
      }
      if (g === gen) policies(v, g);
    };
    const rows = list.map((p) => h('tr', { 'data-name': p.name, class: p.is_failback ? 'twin' : null },
      h('td', {}, h('strong', { text: p.name }), p.is_failback ? h('span', { class: 'sub', text: 'failback twin of ' + (p.twin || '?') }) : null),
      polFields.map(([k]) => h('td', { class: 'num', text: dur(p[k]) })),
      h('td', { class: 'num', text: String(p.machines || 0) }),
      h('td', {}, h('div', { class: 'actions tight' },
        h('button', { type: 'button', class: 'edit', text: 'Edit', onclick: () => edit(p) }),
        p.is_failback ? null : h('button', { type: 'button', class: 'delete', text: 'Delete', onclick: () => del(p) })))));
    put(v, head('Policies', list.length + ' policies'), out,
      h('section', { class: 'card' }, table(['Name', 'Point every', 'RPO threshold', 'Kept', 'App-consistent', 'Thin after',
        'Thin to one every', 'Machines', ''], rows, 'No policies: create one below.')),
      h('section', { class: 'card', id: 'policy-edit' }, title, form));
  }

  /* Recovery points. */

  async function points(v, g) {
    const id = decodeURIComponent((location.hash.match(/^#\/points\/([^/?]+)/) || [])[1] || '');
    let ms;
    try {
      ms = (await api('GET', '/api/v1/machines')).machines.filter((m) => m.role === 'agent');
    } catch (e) {
      if (g === gen) put(v, head('Recovery points'), errorMsg('Could not list the machines.', e));
      return;
    }
    if (g !== gen) return;
    const sel = h('select', { id: 'points-machine', 'aria-label': 'Machine' },
      id ? null : h('option', { value: '', text: 'Choose a machine…' }),
      ms.map((m) => h('option', { value: m.id, text: m.hostname + ' (' + m.id.slice(0, 8) + ')' })));
    sel.value = id;
    sel.addEventListener('change', () => { location.hash = '#/points/' + encodeURIComponent(sel.value); });
    const note = h('p', { class: 'muted fine' }, 'Recovery runs on the appliance, not from this page: ',
      h('code', { text: 'havenctl recover ' + (id ? ms.find((m) => m.id === id)?.hostname || id : 'MACHINE') +
        ' --point latest|latest-app|ID --out DIR' }), ' writes each disk at that point to DIR/<disk>.img.');
    const top = h('div', { class: 'actions' }, h('label', { for: 'points-machine', text: 'Machine' }), sel);
    if (!id) return put(v, head('Recovery points'), h('section', { class: 'card' }, top,
      ms.length ? h('p', { class: 'empty', text: 'Choose a machine to see its recovery points.' }) :
        h('p', { class: 'empty', text: 'No agent has enrolled yet.' })), note);
    let p;
    try {
      p = await api('GET', '/api/v1/machines/' + encodeURIComponent(id) + '/points');
    } catch (e) {
      if (g === gen) put(v, head('Recovery points'), h('section', { class: 'card' }, top,
        errorMsg('Could not list the recovery points.', e)), note);
      return;
    }
    if (g !== gen) return;
    const kinds = { app: 'app-consistent', crash: 'crash' };
    const rows = (p.points || []).map((q) => h('tr', { 'data-point': q.point_id },
      h('td', {}, time(q.taken_at, true)), h('td', { text: kinds[q.kind] || q.kind }),
      h('td', {}, q.kind === 'app' ? pill('ok', 'app-consistent') : q.crash_consistent ? pill('ok', 'crash-consistent') :
        pill('warn', 'not crash-consistent'), q.kind !== 'app' && !q.crash_consistent ?
        h('span', { class: 'sub', text: 'read live, without a snapshot' }) : null),
      h('td', { text: duration(q.age_s) + ' ago' }), h('td', { class: 'mono', text: String(q.point_id) })));
    put(v, head('Recovery points', updated()), h('section', { class: 'card', id: 'points' }, top,
      kv([['Policy', p.policy || h('span', { class: 'muted', text: 'none: assign one on the Machines page' })],
        ['Achieved RPO', rpoPill(p)], ['Disks', (p.disks || []).join(', ') || '—'],
        ['Latest', p.latest ? time(p.latest.taken_at, true) : '—'],
        ['Latest app-consistent', p.latest_app ? time(p.latest_app.taken_at, true) : '—']]),
      table(['Taken', 'Kind', 'Consistency', 'Age', 'Point id'], rows, 'No recovery point yet: the first comes when the initial ' +
        'sync of every disk has finished.')), note);
    every(15000, g, () => points(v, g));
  }

  /* Jobs. */

  async function jobs(v, g) {
    let list;
    try {
      list = (await api('GET', '/api/v1/jobs')).jobs;
    } catch (e) {
      if (g === gen) put(v, head('Jobs'), errorMsg('Could not list the jobs.', e));
      return every(10000, g, () => jobs(v, g));
    }
    if (g !== gen) return;
    const states = { queued: '', running: 'warn', succeeded: 'ok', failed: 'bad' };
    const rows = list.map((j) => h('tr', { 'data-id': j.id },
      h('td', { class: 'num', text: j.id }), h('td', { class: 'mono' }, j.kind === 'push' ? h('a', { href: '#/push?job=' + j.id, text: j.kind }) : j.kind),
      h('td', {}, pill(states[j.state] || '', j.state)),
      h('td', {}, h('div', { class: 'bar' }, h('progress', { max: 100, value: j.percent }), j.percent + '%')),
      h('td', { class: 'jobmsg' }, j.error ? h('span', { class: 'error-text', text: j.error }) : j.result && j.message &&
        summary(j.result).startsWith(j.message) ? summary(j.result) : [j.message || '—',
        j.result ? h('span', { class: 'sub mono', text: summary(j.result) }) : null]),
      h('td', { text: j.created_by || '—' }), h('td', {}, time(j.created_at)),
      h('td', {}, j.finished_at ? time(j.finished_at) : h('span', { class: 'muted', text: 'not yet' }))));
    put(v, head('Jobs', updated()),
      h('section', { class: 'card' }, table(['#', 'Kind', 'State', 'Progress', 'Message / result', 'By', 'Created', 'Finished'],
        rows, 'No jobs yet: certificate renewals, discoveries, push installs and recoveries run as jobs.')));
    const busy = list.some((j) => j.state === 'queued' || j.state === 'running');
    every(busy ? 2000 : 10000, g, () => jobs(v, g));
  }
  function summary(r) {
    if (r && r.not_after) return 'valid until ' + r.not_after + (r.serial ? ', serial ' + r.serial : '');
    if (r && r.hypervisor && (typeof r.vms === 'number' || r.pending_thumbprint)) return discResult(r);
    if (r && r.machine_id && r.host_key) return 'agent on ' + r.address + ': machine ' + r.machine_id + ' ' + r.status +
      (r.host_key_new ? ', host key ' + r.host_key + ' recorded' : '');
    const s = JSON.stringify(r);
    return s.length > 160 ? s.slice(0, 157) + '…' : s;
  }

  /* Certificates. */

  function certCard(title, c, id, extra) {
    return h('section', { class: 'card', id },
      h('h2', {}, h('span', { text: title }), certPill(c)),
      c.error ? msg('error', 'Cannot read it.', c.error) : [
        c.warning ? msg('warn', null, c.warning + '.') : null,
        kv([['Subject', c.subject], ['Valid from', time(c.not_before)],
          ['Valid until', h('span', { class: 'not-after' }, time(c.not_after))],
          ['Days left', h('span', { class: 'days-left', text: String(c.days_left) })],
          ['Serial', h('span', { class: 'mono serial', text: c.serial })],
          ['SHA-256', h('span', { class: 'mono', text: c.fingerprint })]])],
      extra);
  }

  async function certificates(v, g) {
    let c;
    try {
      c = await api('GET', '/api/v1/cert');
    } catch (e) {
      if (g === gen) put(v, head('Certificates'), errorMsg('Could not read the certificates.', e));
      return;
    }
    if (g !== gen) return;
    const out = h('div', { id: 'renew-msg' }, flashMsg());
    const btn = h('button', { type: 'button', class: 'primary', id: 'renew', text: 'Renew the server certificate' });
    btn.addEventListener('click', async () => {
      if (!await confirmDialog('Renew the server certificate?', 'A new key and certificate are issued from the site CA ' +
        'and used at once. Enrolled machines keep working: they trust the CA, not this certificate.', 'Renew', false)) return;
      btn.disabled = true;
      btn.textContent = 'Renewing…';
      put(out, msg('', null, 'Renewing: a job issues the new certificate.'));
      try {
        const r = await api('POST', '/api/v1/cert/renew');
        flash = msg('ok', 'The server certificate was renewed (job ' + r.job + ').', 'It is valid until ' +
          when(r.server.not_after) + ' (' + plural(r.server.days_left, 'day') + ' left). Browsers may ask you to accept it again.');
      } catch (e) {
        flash = errorMsg('Renewing the certificate failed.', e);
      }
      if (g === gen) certificates(v, g);
    });
    put(v, head('Certificates'), out, h('div', { class: 'grid' },
      certCard('Server certificate', c.server, 'cert-server', h('div', { class: 'actions' }, btn,
        h('span', { class: 'muted fine', text: 'Used on the admin, control and data ports.' }))),
      certCard('Site CA', c.ca, 'cert-ca', h('p', { class: 'muted fine', text: 'Signs the server certificate and every enrolled ' +
        'machine\'s certificate. It lasts 10 years.' }))));
  }

  /* Passphrase. */

  function passphrase(v, g) {
    const shown = h('div', { id: 'pass-out' });
    const pw = h('input', { id: 'reveal-password', type: 'password', autocomplete: 'current-password', required: true });
    const form = h('form', { class: 'stack', id: 'reveal-form' },
      h('label', { for: 'reveal-password', text: 'Your password' }), pw,
      h('button', { type: 'submit', class: 'primary', text: 'Show the passphrase' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!pw.value) { put(shown, msg('error', 'Enter your password first.', 'The passphrase is shown only after you re-enter it.')); return; }
      const b = form.querySelector('button');
      b.disabled = true;
      try {
        const r = await api('POST', '/api/v1/passphrase/reveal', { password: pw.value });
        if (g !== gen) return;
        showPass(shown, r.passphrase, 'The current enrollment passphrase:');
      } catch (e) {
        put(shown, errorMsg('The passphrase was not shown.', e));
      } finally {
        pw.value = '';
        b.disabled = false;
      }
    });
    const gen2 = h('button', { type: 'button', class: 'danger', id: 'regenerate', text: 'Generate a new passphrase' });
    const genOut = h('div', { id: 'regen-out' });
    gen2.addEventListener('click', async () => {
      if (!await confirmDialog('Generate a new passphrase?', 'The current passphrase stops working for new enrollments. ' +
        'Machines already enrolled keep working. Keep the new one somewhere safe.', 'Generate', true)) return;
      gen2.disabled = true;
      try {
        const r = await api('POST', '/api/v1/passphrase');
        if (g !== gen) return;
        put(shown);
        showPass(genOut, r.passphrase, 'The new passphrase is in effect:');
      } catch (e) {
        put(genOut, errorMsg('No new passphrase was generated.', e));
      } finally {
        gen2.disabled = false;
      }
    });
    put(v, head('Passphrase'), h('div', { class: 'grid' },
      card('Show the passphrase', null, h('p', { class: 'muted', text: 'Agents and scale-out process servers prove they know ' +
        'this passphrase once, when they enroll. Re-enter your password to see it.' }), form, shown),
      card('Generate a new one', null, h('p', { class: 'muted', text: 'Do this if the passphrase may have leaked. Enrolled ' +
        'machines keep their certificates; only new enrollments need the new passphrase.' }), gen2, genOut)));
  }
  function showPass(where, p, label) {
    const box = h('div', {}, msg('ok', null, label), h('div', { class: 'secret', id: 'passphrase', text: p }),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Hide', onclick: () => box.remove() }),
        h('span', { class: 'muted fine', text: 'Copy it to the machine to enroll in a file only root can read.' })));
    where.replaceChildren(box);
  }

  /* Audit log. */

  async function audit(v, g) {
    let list;
    try {
      list = (await api('GET', '/api/v1/audit')).entries;
    } catch (e) {
      if (g === gen) put(v, head('Audit log'), errorMsg('Could not read the audit log.', e));
      return;
    }
    if (g !== gen) return;
    const filter = h('input', { type: 'search', id: 'audit-filter', placeholder: 'Filter: user, action, address…', 'aria-label': 'Filter' });
    const body = h('div', {});
    const draw = () => {
      const q = filter.value.trim().toLowerCase();
      const rows = list.filter((a) => !q || [a.actor, a.address, a.action, a.target, a.detail].join(' ').toLowerCase().includes(q))
        .map((a) => h('tr', {}, h('td', {}, time(a.at, true)), h('td', { text: a.actor }), h('td', { class: 'mono', text: a.address }),
          h('td', { class: 'mono action', text: a.action }), h('td', { text: a.target || '' }), h('td', { text: a.detail || '' })));
      put(body, table(['When', 'Who', 'From', 'Action', 'Target', 'Detail'], rows,
        q ? 'Nothing matches "' + filter.value + '".' : 'The audit log is empty.'));
    };
    filter.addEventListener('input', draw);
    draw();
    put(v, head('Audit log', 'The latest ' + list.length + ' entries, newest first'),
      h('section', { class: 'card' }, h('div', { class: 'actions' }, filter,
        h('button', { type: 'button', text: 'Refresh', onclick: () => route() })), body));
  }

  /* Account. */

  function account(v, g) {
    const out = h('div', { id: 'password-msg' });
    const f = (id, label, ac) => [h('label', { for: id, text: label }), h('input', { id, type: 'password', autocomplete: ac, required: true })];
    const form = h('form', { class: 'stack', id: 'password-form' }, f('pw-current', 'Current password', 'current-password'),
      f('pw-new', 'New password (8 characters or more)', 'new-password'), f('pw-repeat', 'New password again', 'new-password'),
      h('button', { type: 'submit', class: 'primary', text: 'Change the password' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const cur = $('#pw-current').value, nw = $('#pw-new').value, rep = $('#pw-repeat').value;
      if (!cur) return put(out, msg('error', 'The current password is missing.', 'Enter it to prove it is you.'));
      if (nw.length < 8) return put(out, msg('error', 'The new password is too short.', 'Use 8 characters or more.'));
      if (nw !== rep) return put(out, msg('error', 'The two new passwords differ.', 'Type the same new password twice.'));
      const b = form.querySelector('button');
      b.disabled = true;
      try {
        await api('POST', '/api/v1/password', { current: cur, new: nw });
        if (g !== gen) return;
        form.reset();
        put(out, msg('ok', 'Your password is changed.', 'Use the new one the next time you sign in.'));
      } catch (e) {
        put(out, errorMsg('The password was not changed.', e));
      } finally {
        b.disabled = false;
      }
    });
    put(v, head('Account'), card('Signed in as ' + user, null,
      h('p', { class: 'muted', text: 'Sessions end after ' + Math.round(idleS / 60) + ' minutes without activity.' }),
      h('h2', { text: 'Change your password' }), form, out));
  }

  /* Accounts (docs/accounts.md): credentials for discovery and push
   * install.  A secret goes to the API and never comes back: answers say
   * only whether one is stored, and the form's secret fields are emptied
   * once the API has it. */

  const accountKinds = {
    vsphere: ['vSphere discovery', 'A vCenter or ESXi user with at least the Read-only role on the whole inventory, and its password.'],
    libvirt: ['libvirt', 'For a KVM host reached by qemu+ssh://: a user with an SSH private key or a password. A local URI ' +
      '(qemu:///system) needs no secret: choose "none".'],
    push: ['Push install', 'A Linux user on the machines to protect, with its password or an SSH private key: root, or a user ' +
      'that may use sudo.'],
  };
  const kindLabel = (k) => (accountKinds[k] || [k])[0];
  const hintEl = (t) => h('span', { class: 'hint', text: t });
  const namePattern = /^(?!\d+$)[A-Za-z0-9._-]{1,64}$/;
  const inUseHint = 'On the Hypervisors page, give each of those servers another account (Edit) or remove them, then remove this account.';

  function accountSecret(a) {
    if (!a.has_secret) return h('span', { class: 'muted', text: a.kind === 'libvirt' && a.auth === 'none' ? 'none needed' : 'none' });
    return h('span', {}, pill('ok', 'stored'), h('span', { class: 'sub', text: 'encrypted, never shown; set ' +
      ago(a.secret_changed_at || a.created_at) }));
  }

  async function accounts(v, g) {
    let list;
    try {
      list = (await api('GET', '/api/v1/accounts')).accounts;
    } catch (e) {
      if (g === gen) put(v, head('Accounts'), errorMsg('Could not list the accounts.', e));
      return;
    }
    if (g !== gen) return;
    const out = h('div', { id: 'account-msg' }, flashMsg());
    const field = (id, label, input, note) => h('div', { class: 'field', id: id + '-row' },
      h('label', { for: id, text: label }), input, note ? h('span', { class: 'sub', id: id + '-note', text: note }) : null);
    const kind = h('select', { id: 'acc-kind' }, Object.entries(accountKinds).map(([k, [l]]) => h('option', { value: k, text: l })));
    const name = h('input', { id: 'acc-name', autocomplete: 'off', maxlength: 64, placeholder: 'e.g. vcenter-ro' });
    const user = h('input', { id: 'acc-user', autocomplete: 'off', maxlength: 255, spellcheck: false });
    const auth = h('select', { id: 'acc-auth' }, [['password', 'Password'], ['ssh-key', 'SSH private key'],
      ['none', 'None (a local URI)']].map(([k, l]) => h('option', { value: k, text: l })));
    const stype = h('select', { id: 'acc-secret-type' }, [['password', 'Password'], ['key', 'SSH private key']]
      .map(([k, l]) => h('option', { value: k, text: l })));
    const pw = h('input', { id: 'acc-password', type: 'password', autocomplete: 'new-password', spellcheck: false });
    const key = h('textarea', { id: 'acc-key', rows: 6, spellcheck: false, autocomplete: 'off', class: 'mono',
      placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----\n…\n-----END OPENSSH PRIVATE KEY-----' });
    const sudo = h('input', { id: 'acc-sudo', type: 'checkbox' });
    const about = h('p', { class: 'muted fine', id: 'acc-about' });
    const stored = h('p', { class: 'fine', id: 'acc-stored', hidden: true });
    let editing = null;
    const title = h('h2', { text: 'Add an account' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'acc-submit', text: 'Add the account' });
    const cancel = h('button', { type: 'button', text: 'Cancel', hidden: true });
    const rows = {
      auth: field('acc-auth', 'Authentication', auth),
      stype: field('acc-secret-type', 'Secret', stype),
      pw: field('acc-password', 'Password', pw),
      key: field('acc-key', 'Private key (PEM)', key, 'Paste the whole key file. ed25519 and ECDSA keys work; RSA keys are ' +
        'signed with SHA-1, which OpenSSH 8.8 and later refuse. Keys with a passphrase are not supported.'),
      sudo: h('div', { class: 'field check', id: 'acc-sudo-row' }, h('label', { for: 'acc-sudo' }, sudo,
        ' The user is not root: use sudo (with the password above when it asks; a key needs NOPASSWD)')),
    };
    const mode = () => {
      const k = editing ? editing.kind : kind.value;
      if (k === 'vsphere') return 'password';
      if (k === 'libvirt') return auth.value === 'none' ? null : auth.value === 'ssh-key' ? 'key' : 'password';
      return stype.value;
    };
    const sync = () => {
      const k = editing ? editing.kind : kind.value;
      about.textContent = accountKinds[k][1];
      rows.auth.hidden = k !== 'libvirt';
      rows.stype.hidden = k !== 'push';
      rows.sudo.hidden = k !== 'push';
      const m = mode();
      rows.pw.hidden = m !== 'password';
      rows.key.hidden = m !== 'key';
      for (const i of [pw, key]) i.placeholder = editing && editing.has_secret ? 'unchanged' : (i === key ? key.dataset.ph : '');
      $('#acc-user-label').textContent = k === 'libvirt' && auth.value === 'none' ? 'Username (optional)' : 'Username';
    };
    key.dataset.ph = key.placeholder;
    kind.addEventListener('change', sync);
    auth.addEventListener('change', sync);
    stype.addEventListener('change', sync);
    const form = h('form', { id: 'account-form', novalidate: true, autocomplete: 'off' },
      h('div', { class: 'fields' },
        field('acc-kind', 'Kind', kind), field('acc-name', 'Name', name, '1 to 64 letters, digits, . _ -'),
        h('div', { class: 'field', id: 'acc-user-row' }, h('label', { for: 'acc-user', id: 'acc-user-label', text: 'Username' }), user),
        rows.auth, rows.stype),
      about, stored, rows.pw, rows.key, rows.sudo,
      h('div', { class: 'actions' }, submit, cancel));
    const reset = () => {
      editing = null;
      form.reset();
      kind.disabled = name.disabled = false;
      title.textContent = 'Add an account';
      submit.textContent = 'Add the account';
      cancel.hidden = true;
      stored.hidden = true;
      sync();
    };
    const edit = (a) => {
      reset();
      editing = a;
      kind.value = a.kind;
      name.value = a.name;
      kind.disabled = name.disabled = true;
      user.value = a.username || '';
      if (a.kind === 'libvirt') auth.value = a.auth || 'none';
      sudo.checked = !!a.sudo;
      title.textContent = 'Edit ' + a.name;
      submit.textContent = 'Save ' + a.name;
      cancel.hidden = false;
      put(stored, a.has_secret ? ['Secret: ', h('strong', { text: 'unchanged' }), ' (stored ' + ago(a.secret_changed_at || a.created_at) +
        '). Type a new one below only to replace it; nothing shows the stored one.'] : 'No secret is stored.');
      stored.hidden = false;
      put(out);
      sync();
      form.scrollIntoView({ block: 'nearest' });
      user.focus();
    };
    cancel.addEventListener('click', reset);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const k = editing ? editing.kind : kind.value;
      const body = {};
      if (!editing) {
        body.name = name.value.trim();
        body.kind = k;
        if (!body.name) return put(out, msg('error', 'The account needs a name.', 'Enter one, e.g. vcenter-ro.'));
        if (!namePattern.test(body.name)) return put(out, msg('error', '"' + body.name + '" is not a valid account name.',
          'Use 1 to 64 letters, digits, dots, underscores or dashes, not only digits.'));
      }
      body.username = user.value.trim();
      if (k === 'libvirt') body.auth = auth.value;
      if (k === 'push') body.sudo = sudo.checked;
      const m = mode();
      let secret = m === 'password' ? pw.value : m === 'key' ? key.value.trim() : '';
      if (m === 'key' && secret) {
        if (!/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]+-----END [A-Z0-9 ]*PRIVATE KEY-----$/.test(secret))
          return put(out, msg('error', 'That is not a private key in PEM form.', 'Paste the whole key file, from ' +
            '"-----BEGIN … PRIVATE KEY-----" to "-----END … PRIVATE KEY-----" (not the .pub file).'));
        secret += '\n';
      }
      if (secret) body.secret = secret;
      else if (!editing && m) {
        return put(out, msg('error', 'The ' + (m === 'key' ? 'private key' : 'password') + ' is missing.',
          'A ' + kindLabel(k) + ' account needs one' + (k === 'libvirt' ? ', or choose authentication "none" for a local URI.' : '.')));
      }
      if (k !== 'libvirt' && !body.username) return put(out, msg('error', 'The username is missing.',
        k === 'push' ? 'Enter the Linux user to log in as: root, or a user that may use sudo.' : 'Enter the vCenter or ESXi user, e.g. haven@vsphere.local.'));
      submit.disabled = true;
      try {
        const a = editing ? await api('PUT', '/api/v1/accounts/' + encodeURIComponent(editing.name), body) :
          await api('POST', '/api/v1/accounts', body);
        pw.value = key.value = '';
        flash = msg('ok', editing ? 'The account ' + a.name + ' is saved.' : 'The account ' + a.name + ' is added.',
          body.secret ? 'Its ' + (m === 'key' ? 'key' : 'password') + ' is stored encrypted and is never shown again.' :
            editing ? 'Its secret is unchanged.' : null);
        if (g === gen) accounts(v, g);
      } catch (e) {
        put(out, errorMsg(editing ? 'The account ' + editing.name + ' was not saved.' : 'The account was not added.', e,
          e.code === 'conflict' ? 'Choose another name, or edit the existing account.' : null));
        submit.disabled = false;
      }
    });
    const del = async (a) => {
      if (!await confirmDialog('Remove the account ' + a.name + '?', 'Its stored secret is deleted. Hypervisor servers that use ' +
        'it must get another account first.', 'Remove', true)) return;
      try {
        await api('DELETE', '/api/v1/accounts/' + encodeURIComponent(a.name));
        flash = msg('ok', 'The account ' + a.name + ' is removed.', 'Its secret is deleted.');
      } catch (e) {
        flash = errorMsg('The account ' + a.name + ' was not removed.', e, e.code === 'conflict' ? inUseHint : null);
      }
      if (g === gen) accounts(v, g);
    };
    const details = (a) => a.kind === 'libvirt' ? 'auth ' + (a.auth || 'none') : a.kind === 'push' ?
      (a.sudo ? 'uses sudo' : 'logs in as root') : '';
    const trs = list.map((a) => h('tr', { 'data-name': a.name },
      h('td', {}, h('strong', { text: a.name })),
      h('td', {}, kindLabel(a.kind), details(a) ? h('span', { class: 'sub', text: details(a) }) : null),
      h('td', { class: 'mono', text: a.username || '—' }),
      h('td', { class: 'secret-state' }, accountSecret(a)),
      h('td', { class: 'used-by' }, (a.used_by || []).length ? (a.used_by || []).join(', ') : h('span', { class: 'muted', text: '—' })),
      h('td', {}, time(a.created_at)), h('td', {}, time(a.updated_at)),
      h('td', {}, h('div', { class: 'actions tight' },
        h('button', { type: 'button', class: 'edit', text: 'Edit', onclick: () => edit(a) }),
        h('button', { type: 'button', class: 'delete', text: 'Remove', onclick: () => del(a) })))));
    put(v, head('Accounts', plural(list.length, 'account')), out,
      h('section', { class: 'card' }, table(['Name', 'Kind', 'Username', 'Secret', 'Used by', 'Created', 'Updated', ''], trs,
        'No accounts yet: add one below for each vCenter or ESXi, KVM host or push install login.')),
      h('section', { class: 'card', id: 'account-edit' }, title, form));
    reset();
  }

  /* Hypervisor servers and their discovered machines. */

  const hvFollow = {};   /* hypervisor id → a discovery job started from this tab: its result stays shown */
  const hvKinds = { vsphere: 'vSphere', libvirt: 'libvirt (KVM)' };
  const hvWhere = (x) => x.kind === 'libvirt' ? x.uri : x.address + ':' + x.port;
  const aboutText = (a) => !a ? null : a.name || [a.type || a.driver || a.hypervisor, a.version].filter(Boolean).join(' ') || null;

  function hvPill(x, job) {
    if (x.status === 'pending' && x.pending_thumbprint && !x.thumbprint) return pill('warn', 'Thumbprint to accept');
    if (x.discovering || (job && (job.state === 'queued' || job.state === 'running')))
      return pill('warn', x.kind === 'vsphere' && !x.thumbprint ? 'Connecting…' : 'Discovering…');
    if (x.status === 'connected') return pill('ok', 'Connected');
    if (x.status === 'pending') return pill('warn', 'Thumbprint to accept');
    if (x.status === 'error') return pill('bad', x.thumbprint && x.pending_thumbprint ? 'Certificate changed' : 'Error');
    return pill('', x.status === 'new' ? 'Not tried yet' : x.status);
  }
  const jobStates = { queued: '', running: 'warn', succeeded: 'ok', failed: 'bad' };
  const jobBusy = (j) => j && (j.state === 'queued' || j.state === 'running');

  function discResult(r) {
    if (!r) return null;
    if (r.status === 'pending') return r.hypervisor + ' presents the SHA-256 thumbprint ' + r.pending_thumbprint + ': accept it to discover.';
    if (typeof r.vms !== 'number') return summary(r);
    return plural(r.vms, 'machine') + ' on ' + r.hypervisor + ' (' + r.added + ' new, ' + r.gone + ' gone, ' + r.returned +
      ' back), ' + r.protectable + ' protectable; ' + Number(r.total_s).toFixed(1) + ' s';
  }

  /* A discovery job: progress while it runs, then its result or reason. */
  function discJobPanel(x, j, redraw, quiet) {
    const busy = jobBusy(j);
    const close = hvFollow[x.id] === j.id && !busy ?
      h('button', { type: 'button', class: 'link', text: 'Dismiss', onclick: () => { delete hvFollow[x.id]; redraw(); } }) : null;
    return h('div', { class: 'job disc-job', 'data-job': j.id, 'data-state': j.state },
      h('div', { class: 'bar' }, h('strong', { text: 'Discovery job #' + j.id }), pill(jobStates[j.state] || '', j.state),
        busy ? [h('progress', { max: 100, value: j.percent }), j.percent + '%'] : null,
        j.finished_at ? h('span', { class: 'muted fine' }, 'finished ', time(j.finished_at, true)) : null, close),
      j.state === 'failed' && quiet ? h('p', { class: 'result', text: 'Stopped in the TLS handshake, before the password was sent: ' +
        'the certificate changed (below).' }) :
      j.state === 'failed' ? msg('error', 'Discovery failed.', j.error || 'the job ended without a reason',
        hintEl('Fix what it says (the account on the Accounts page, the address with Edit), then Refresh.')) :
        j.state === 'succeeded' ? h('p', { class: 'result', text: discResult(j.result) }) :
          h('p', { class: 'muted', text: j.message || 'waiting to start' }));
  }

  function thumbPanel(x, onAccept) {
    if (x.kind !== 'vsphere' || !x.pending_thumbprint) return null;
    const btn = h('button', { type: 'button', class: x.thumbprint ? 'danger accept' : 'primary accept',
      text: x.thumbprint ? 'Accept the new thumbprint' : 'Accept this thumbprint' });
    btn.addEventListener('click', async () => {
      if (x.thumbprint && !await confirmDialog('Accept the new certificate of ' + x.name + '?', 'Only if you know why it changed ' +
        '(the certificate was renewed or the server reinstalled) and the new thumbprint is the one on the server. Otherwise ' +
        'something may be impersonating it, and it would receive the account\'s password.', 'Accept', true)) return;
      btn.disabled = true;
      onAccept(x.pending_thumbprint);
    });
    const where = hvWhere(x);
    if (!x.thumbprint) return h('div', { class: 'thumb first', 'data-thumb': x.name },
      msg('warn', 'First connection to ' + where + ': check its certificate.', 'Compare this SHA-256 thumbprint with the one ' +
        'on the server (ESXi: the host\'s console or Host Client, Manage › Security › Certificates; vCenter: the machine SSL ' +
        'certificate in Certificate Management). Accept it only if they match: the password is sent only to a server that ' +
        'presents it.'),
      h('div', { class: 'thumbprint mono', text: x.pending_thumbprint }), h('div', { class: 'actions' }, btn));
    return h('div', { class: 'thumb changed', 'data-thumb': x.name },
      msg('error', 'The certificate of ' + where + ' changed: discovery is stopped.', x.error && /changed/.test(x.error) ? x.error : null),
      kv([['Accepted before', h('span', { class: 'mono old-thumb', text: x.thumbprint })],
        ['Presented now', h('span', { class: 'mono new-thumb', text: x.pending_thumbprint })]]),
      h('div', { class: 'actions' }, btn));
  }

  /* Start a discovery (refresh, accept) and follow its job. */
  async function hvAction(x, what, method, path, body, done) {
    try {
      const r = await api(method, path, body);
      const jl = (await api('GET', '/api/v1/jobs')).jobs || [];
      const j = jl.find((j) => j.kind === 'discover' && j.args && j.args.hypervisor === x.id &&
        (r.discovery_run === undefined || j.args.run === r.discovery_run)) ||
        jl.find((j) => j.kind === 'discover' && j.args && j.args.hypervisor === x.id);
      if (j) hvFollow[x.id] = j.id;
      flash = msg('ok', what + ': ' + (r.already_running ? 'a discovery of ' + x.name + ' was already running; following it.' :
        'discovery of ' + x.name + ' started' + (j ? ' (job #' + j.id + ')' : '') + '.'), 'Its progress and result show below.');
    } catch (e) {
      flash = errorMsg(what + ' failed for ' + x.name + '.', e);
    }
    done();
  }

  function hvDetail(x, j, redraw) {
    const parts = [];
    const changed = x.kind === 'vsphere' && x.thumbprint && x.pending_thumbprint;
    const followed = j && (jobBusy(j) || hvFollow[x.id] === j.id);
    if (followed) parts.push(discJobPanel(x, j, redraw, changed));
    parts.push(thumbPanel(x, (t) => hvAction(x, 'Accepting the thumbprint', 'POST', '/api/v1/hypervisors/' + x.id + '/accept',
      { thumbprint: t }, redraw)));
    if (x.status === 'error' && x.error && !changed && !followed)
      parts.push(msg('error', 'Cannot discover ' + x.name + '.', x.error, hintEl(/password|login|permission/i.test(x.error) ?
        'Correct the account\'s username or password on the Accounts page (Edit), then Refresh.' :
        'Fix what it says (Edit changes the ' + (x.kind === 'libvirt' ? 'URI' : 'address, port') + ' or account), then Refresh.')));
    return parts.filter(Boolean);
  }

  async function hypervisors(v, g) {
    const ref = decodeURIComponent((location.hash.match(/^#\/hypervisors\/([^/?]+)/) || [])[1] || '');
    if (ref) return hypervisorPage(v, g, ref);
    let list, accts, jl;
    try {
      const [hl, al, jj] = await Promise.all([api('GET', '/api/v1/hypervisors'),
        api('GET', '/api/v1/accounts').catch(() => ({ accounts: [] })), api('GET', '/api/v1/jobs').catch(() => ({ jobs: [] }))]);
      list = hl.hypervisors; accts = al.accounts || []; jl = jj.jobs || [];
    } catch (e) {
      if (g === gen) put(v, head('Hypervisor servers'), errorMsg('Could not list the hypervisor servers.', e));
      return every(15000, g, () => hypervisors(v, g));
    }
    if (g !== gen) return;
    const redraw = () => { if (g === gen) hypervisors(v, g); };
    const jobOf = (x) => jl.find((j) => j.kind === 'discover' && j.args && j.args.hypervisor === x.id);
    /* The add/edit form lives as long as the page: redraws replace the
     * list around it, so what is being typed survives them. */
    const kept = $('#hv-edit');
    const form = kept && kept.dataset.gen === String(g) ? hvFormOf[g] : (hvFormOf = { [g]: hvForm(accts, redraw) })[g];
    form.accounts(accts);
    const out = form.out;
    const refresh = (x) => hvAction(x, 'Refresh', 'POST', '/api/v1/hypervisors/' + x.id + '/refresh', undefined, redraw);
    const del = async (x) => {
      if (!await confirmDialog('Remove ' + x.name + '?', 'Its ' + plural(x.vm_count + x.gone_count, 'discovered machine') +
        ' are forgotten. Refused while any of them is protected.', 'Remove', true)) return;
      try {
        const r = await api('DELETE', '/api/v1/hypervisors/' + x.id);
        flash = msg('ok', x.name + ' is removed.', plural(r.vms || 0, 'discovered machine') + ' forgotten.');
      } catch (e) {
        flash = errorMsg(x.name + ' was not removed.', e, e.code === 'conflict' ? 'Stop protecting those machines first (Revoke on ' +
          'the Machines page), then remove the server.' : null);
      }
      redraw();
    };
    let busy = false;
    const rows = list.map((x) => {
      const j = jobOf(x);
      if (x.discovering || jobBusy(j)) busy = true;
      const detail = hvDetail(x, j, redraw);
      const ab = aboutText(x.about);
      return [h('tr', { 'data-name': x.name, class: 'hv' + (detail.length ? ' hasdetail' : '') },
        h('td', {}, h('a', { href: '#/hypervisors/' + x.id }, h('strong', { text: x.name })), ab ? h('span', { class: 'sub', text: ab }) : null),
        h('td', { text: hvKinds[x.kind] || x.kind }),
        h('td', { class: 'mono', text: hvWhere(x) }),
        h('td', {}, x.account || h('span', { class: 'muted', text: 'none' })),
        h('td', { class: 'status' }, hvPill(x, j)),
        h('td', {}, x.last_discovery ? h('span', { title: x.last_discovery, text: ago(x.last_discovery) }) : h('span', { class: 'muted', text: 'never' }),
          x.last_attempt && x.last_attempt !== x.last_discovery ? h('span', { class: 'sub', text: 'last try ' + ago(x.last_attempt) }) : null),
        h('td', { class: 'num' }, h('a', { href: '#/hypervisors/' + x.id, text: String(x.vm_count) }),
          h('span', { class: 'sub', text: x.protectable_count + ' protectable' + (x.gone_count ? ', ' + x.gone_count + ' gone' : '') })),
        h('td', {}, h('div', { class: 'actions tight' },
          h('button', { type: 'button', class: 'refresh', text: 'Refresh server', disabled: x.discovering || jobBusy(j),
            onclick: (ev) => { ev.target.disabled = true; refresh(x); } }),
          h('button', { type: 'button', class: 'edit', text: 'Edit', onclick: () => form.edit(x) }),
          h('button', { type: 'button', class: 'delete', text: 'Remove', onclick: () => del(x) })))),
      detail.length ? h('tr', { class: 'hvdetail', 'data-detail': x.name }, h('td', { colspan: 8 }, detail)) : null];
    });
    const fl = flashMsg();
    if (fl) put(out, fl);
    const hvHead = () => h('div', { class: 'pagehead' }, h('h1', { text: 'Hypervisor servers' }),
      h('span', { class: 'actions tight' }, h('span', { class: 'muted', text: updated() }),
        h('a', { href: '#/push', class: 'button', id: 'push-any', text: 'Install the agent on an address…' })));
    const listCard = h('section', { class: 'card', id: 'hv-list' }, table(['Server', 'Kind', 'Address', 'Account', 'Status',
      'Last discovery', 'Machines', ''], rows, 'No hypervisor server yet: add a vCenter, an ESXi host or a KVM host below. ' +
      'Its machines are discovered every 15 minutes.'));
    if (kept && kept.dataset.gen === String(g)) {
      v.querySelector('.pagehead').replaceWith(hvHead());
      $('#hv-list').replaceWith(listCard);
    } else {
      put(v, hvHead(), out, listCard,
        h('section', { class: 'card', id: 'hv-edit', 'data-gen': String(g) }, form.title, form.el));
    }
    every(busy ? 1500 : 15000, g, () => hypervisors(v, g));
  }

  let hvFormOf = {};
  function hvForm(accts, redraw) {
    const out = h('div', { id: 'hv-msg' });
    const field = (id, label, input, note) => h('div', { class: 'field', id: id + '-row' },
      h('label', { for: id, text: label }), input, note ? h('span', { class: 'sub', text: note }) : null);
    const kind = h('select', { id: 'hv-kind' }, Object.entries(hvKinds).map(([k, l]) => h('option', { value: k, text: l })));
    const name = h('input', { id: 'hv-name', autocomplete: 'off', maxlength: 64, placeholder: 'e.g. vcenter-1' });
    const addr = h('input', { id: 'hv-address', autocomplete: 'off', maxlength: 255, spellcheck: false, placeholder: 'vcenter.example.com' });
    const port = h('input', { id: 'hv-port', autocomplete: 'off', inputmode: 'numeric', value: '443' });
    const uri = h('input', { id: 'hv-uri', autocomplete: 'off', spellcheck: false, placeholder: 'qemu+ssh://root@kvm1/system' });
    const acct = h('select', { id: 'hv-account' });
    const title = h('h2', { text: 'Add a hypervisor server' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'hv-submit', text: 'Add the server' });
    const cancel = h('button', { type: 'button', text: 'Cancel', hidden: true });
    const note = h('p', { class: 'muted fine', id: 'hv-about' });
    const rows = { addr: field('hv-address', 'Address', addr, 'host name or IP address of the vCenter or ESXi host'),
      port: field('hv-port', 'Port', port, 'HTTPS, default 443'),
      uri: field('hv-uri', 'libvirt URI', uri, 'qemu:///system, qemu+ssh://user@host/system or test:///…') };
    let editing = null;
    const sync = () => {
      const k = editing ? editing.kind : kind.value;
      rows.addr.hidden = rows.port.hidden = k !== 'vsphere';
      rows.uri.hidden = k !== 'libvirt';
      const want = k === 'vsphere' ? 'vsphere' : 'libvirt';
      const cur = acct.value;
      put(acct, k === 'libvirt' ? h('option', { value: '', text: 'none (a local URI)' }) : null,
        accts.filter((a) => a.kind === want).map((a) => h('option', { value: a.name, text: a.name + ' (' + (a.username || 'no user') + ')' })));
      if ([...acct.options].some((o) => o.value === cur)) acct.value = cur;
      const none = !accts.some((a) => a.kind === want);
      put(note, k === 'vsphere' ? 'Adding it fetches the certificate\'s thumbprint for you to accept; then its machines are discovered.' :
        'Its domains are discovered at once, then every 15 minutes.', none && k === 'vsphere' ? [' ', h('strong', {},
        'There is no vSphere discovery account yet: add one on the ', h('a', { href: '#/accounts', text: 'Accounts' }), ' page first.')] : null);
    };
    kind.addEventListener('change', sync);
    const el = h('form', { id: 'hv-form', novalidate: true, autocomplete: 'off' },
      h('div', { class: 'fields' }, field('hv-kind', 'Kind', kind), field('hv-name', 'Name', name, '1 to 64 letters, digits, . _ -'),
        rows.addr, rows.port, rows.uri, field('hv-account', 'Account', acct)),
      note, h('div', { class: 'actions' }, submit, cancel));
    const reset = () => {
      editing = null;
      el.reset();
      kind.disabled = name.disabled = false;
      submit.disabled = false;
      port.value = '443';
      title.textContent = 'Add a hypervisor server';
      submit.textContent = 'Add the server';
      cancel.hidden = true;
      sync();
    };
    cancel.addEventListener('click', reset);
    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const k = editing ? editing.kind : kind.value;
      const body = {};
      if (!editing) {
        body.name = name.value.trim();
        body.kind = k;
        if (!namePattern.test(body.name)) return put(out, msg('error', body.name ? '"' + body.name + '" is not a valid name.' :
          'The server needs a name.', 'Use 1 to 64 letters, digits, dots, underscores or dashes, not only digits.'));
      }
      if (k === 'vsphere') {
        body.address = addr.value.trim();
        const p = port.value.trim() === '' ? 443 : Number(port.value.trim());
        if (!body.address) return put(out, msg('error', 'The address is missing.', 'Enter the host name or IP address of the vCenter or ESXi host.'));
        if (!Number.isInteger(p) || p < 1 || p > 65535) return put(out, msg('error', 'Port "' + port.value + '" is not a port number.',
          'Enter a number from 1 to 65535 (vCenter and ESXi use 443).'));
        body.port = p;
        if (!acct.value) return put(out, msg('error', 'A vSphere server needs an account.', 'Add a vSphere discovery account on the Accounts page first.'));
      } else {
        body.uri = uri.value.trim();
        if (!body.uri) return put(out, msg('error', 'The libvirt URI is missing.', 'Enter one, such as qemu:///system or qemu+ssh://root@kvm1/system.'));
      }
      if (acct.value) body.account = acct.value;
      else if (editing && editing.account) return put(out, msg('error', 'A server cannot lose its account here.', 'Choose an account.'));
      if (editing) {
        for (const f of ['address', 'port', 'uri', 'account']) if (body[f] === editing[f]) delete body[f];
        delete body.name; delete body.kind;
        if (!Object.keys(body).length) { reset(); return put(out, msg('', null, 'Nothing changed.')); }
      }
      submit.disabled = true;
      try {
        const x = editing ? await api('PUT', '/api/v1/hypervisors/' + editing.id, body) : await api('POST', '/api/v1/hypervisors', body);
        flash = msg('ok', editing ? x.name + ' is saved.' : x.name + ' is added.', x.kind === 'vsphere' && (!editing || body.address || body.port) ?
          'Its certificate\'s thumbprint is being fetched: check it and accept it below.' :
          x.discovering ? 'Its machines are being discovered.' : null);
        reset();
        redraw();
      } catch (e) {
        put(out, errorMsg(editing ? editing.name + ' was not saved.' : 'The server was not added.', e,
          e.code === 'conflict' ? 'Choose another name, or edit the existing server.' : null));
        submit.disabled = false;
      }
    });
    const edit = (x) => {
      reset();
      editing = x;
      kind.value = x.kind;
      name.value = x.name;
      kind.disabled = name.disabled = true;
      addr.value = x.address || '';
      port.value = x.port ? String(x.port) : '443';
      uri.value = x.uri || '';
      sync();
      acct.value = x.account || '';
      title.textContent = 'Edit ' + x.name;
      submit.textContent = 'Save ' + x.name;
      cancel.hidden = false;
      put(out, x.kind === 'vsphere' ? msg('', null, 'Changing the address or port drops the accepted thumbprint: the new one is ' +
        'fetched for you to accept.') : null);
      el.scrollIntoView({ block: 'nearest' });
    };
    reset();
    /* Redraws pass the accounts again: rebuild the list (closing it if
     * open) only when they changed. */
    let seen = JSON.stringify(accts.map((a) => [a.name, a.kind, a.username]));
    const accounts = (a) => {
      const now = JSON.stringify(a.map((x) => [x.name, x.kind, x.username]));
      if (now === seen) return;
      seen = now;
      accts = a;
      sync();
    };
    return { el, title, edit, out, accounts };
  }

  const powerStates = { on: ['ok', 'On'], off: ['', 'Off'], suspended: ['warn', 'Suspended'], unknown: ['', 'Unknown'] };
  let pushVm = null;   /* the discovered machine an "Install agent" was chosen for */

  async function hypervisorPage(v, g, ref) {
    const q = new URLSearchParams((location.hash.split('?')[1]) || '');
    const offset = Math.max(0, Number(q.get('offset')) || 0), limit = 200;
    const filter = q.get('q') || '';
    let x, jl;
    try {
      [x, jl] = await Promise.all([api('GET', '/api/v1/hypervisors/' + encodeURIComponent(ref) + '?limit=' + limit + '&offset=' + offset),
        api('GET', '/api/v1/jobs').then((r) => r.jobs || [], () => [])]);
    } catch (e) {
      if (g === gen) put(v, head('Hypervisor server'), h('p', {}, h('a', { href: '#/hypervisors', text: '‹ All hypervisor servers' })),
        errorMsg('Could not read hypervisor server ' + ref + '.', e));
      return;
    }
    if (g !== gen) return;
    const redraw = () => { if (g === gen) hypervisorPage(v, g, ref); };
    const j = jl.find((j) => j.kind === 'discover' && j.args && j.args.hypervisor === x.id);
    const vms = (x.vms || []).slice().sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    const search = h('input', { type: 'search', id: 'vm-filter', placeholder: 'Filter: name, address, OS…', 'aria-label': 'Filter', value: filter });
    const body = h('div', {});
    const install = (m) => {
      pushVm = Object.assign({}, m, { hypervisor: x.name });
      location.hash = '#/push?vm=' + encodeURIComponent(m.id) + '&hv=' + encodeURIComponent(x.id);
    };
    const draw = () => {
      const t = search.value.trim().toLowerCase();
      const shown = vms.filter((m) => !t || [m.name, m.hostname, m.guest_os, m.guest_id, (m.addresses || []).join(' '), m.host, m.folder]
        .join(' ').toLowerCase().includes(t));
      const rows = shown.map((m) => {
        const disks = m.disks || [];
        const total = disks.reduce((n, d) => n + (d.capacity || 0), 0);
        const [pc, pl] = powerStates[m.power_state] || ['', m.power_state || 'unknown'];
        return h('tr', { 'data-vm': m.name, class: m.gone_at ? 'gone' : null },
          h('td', {}, h('strong', { text: m.name }), m.gone_at ? [' ', pill('bad', 'Gone')] : null, m.template ? [' ', pill('', 'Template')] : null,
            m.gone_at ? h('span', { class: 'sub', text: 'not seen since ' + when(m.gone_at) }) : null,
            m.hostname && m.hostname !== m.name ? h('span', { class: 'sub', text: m.hostname }) : null,
            m.folder || m.host ? h('span', { class: 'sub', text: [m.folder, m.host].filter(Boolean).join(' · ') }) : null),
          h('td', {}, pill(pc, pl)),
          h('td', {}, m.guest_os || h('span', { class: 'muted', text: 'unknown' }), m.guest_id && m.guest_id !== m.guest_os ?
            h('span', { class: 'sub mono', text: m.guest_id }) : null),
          h('td', { class: 'mono addrs' }, (m.addresses || []).length ? h('ul', { class: 'plain' }, m.addresses.map((a) => h('li', { text: a }))) :
            h('span', { class: 'muted', text: '—' })),
          h('td', { class: 'num', text: m.cpus === null || m.cpus === undefined ? '—' : String(m.cpus) }),
          h('td', { class: 'num', text: typeof m.memory_mb === 'number' ? bytes(m.memory_mb * 1048576) : '—' }),
          h('td', { class: 'disks' }, disks.length ? [disks.length > 1 ? plural(disks.length, 'disk') + ', ' + bytes(total) : null, h('ul', { class: 'plain fine' },
            disks.map((d) => h('li', { title: d.file || '' }, h('span', { class: 'mono', text: d.label || d.file || '?' }), ' ' +
              (typeof d.capacity === 'number' ? bytes(d.capacity) : '?'))))] : h('span', { class: 'muted', text: 'none' })),
          h('td', { class: 'protectable' }, m.protectable ? pill('ok', 'Yes') : [pill('warn', 'No'),
            h('span', { class: 'sub reason', text: sentence(m.not_protectable_reason || 'no reason given') })]),
          h('td', {}, m.gone_at ? null : h('button', { type: 'button', class: 'install', text: 'Install agent', onclick: () => install(m) })));
      });
      put(body, table(['Machine', 'Power', 'Guest OS', 'IP addresses', 'CPUs', 'Memory', 'Disks', 'Protectable', ''], rows,
        t ? 'Nothing on this page matches "' + search.value + '".' : x.last_discovery ? 'No machines were found on ' + x.name + '.' :
          'Not discovered yet: accept the thumbprint or Refresh on the Hypervisors page.'));
    };
    search.addEventListener('input', draw);
    draw();
    const pager = x.vms_total > limit ? h('div', { class: 'actions' },
      h('span', { class: 'muted', text: 'Machines ' + (offset + 1) + '–' + Math.min(offset + limit, x.vms_total) + ' of ' + x.vms_total }),
      offset > 0 ? h('a', { href: '#/hypervisors/' + x.id + '?offset=' + Math.max(0, offset - limit), text: '‹ Previous' }) : null,
      offset + limit < x.vms_total ? h('a', { href: '#/hypervisors/' + x.id + '?offset=' + (offset + limit), text: 'Next ›' }) : null) : null;
    const refresh = h('button', { type: 'button', class: 'refresh', text: 'Refresh server', disabled: x.discovering || jobBusy(j),
      onclick: () => { refresh.disabled = true; hvAction(x, 'Refresh', 'POST', '/api/v1/hypervisors/' + x.id + '/refresh', undefined, redraw); } });
    const summ = h('section', { class: 'card', id: 'hv-summary' }, h('h2', {}, h('span', { text: hvKinds[x.kind] + ' ' + hvWhere(x) }), hvPill(x, j)),
        kv([['Product', aboutText(x.about) || '—'], ['Account', x.account || 'none'],
          x.thumbprint ? ['SHA-256 thumbprint', h('span', { class: 'mono', text: x.thumbprint })] : null,
          ['Last discovery', x.last_discovery ? h('span', {}, time(x.last_discovery, true), ' (' + ago(x.last_discovery) + ')') : 'never'],
          ['Machines', x.vm_count + ' present, ' + x.protectable_count + ' protectable, ' + x.gone_count + ' gone']]),
        hvDetail(x, j, redraw), h('div', { class: 'actions' }, refresh));
    /* Someone is filtering the machines: leave that card alone. */
    const f0 = document.activeElement;
    if (f0 && f0.id === 'vm-filter' && $('#hv-summary')) {
      $('#hv-summary').replaceWith(summ);
      const fl = flashMsg();
      if (fl) put($('#hv-page-msg'), fl);
      return every(x.discovering || jobBusy(j) ? 1500 : 15000, g, () => hypervisorPage(v, g, ref));
    }
    put(v, head(x.name, updated()), h('p', {}, h('a', { href: '#/hypervisors', text: '‹ All hypervisor servers' })),
      h('div', { id: 'hv-page-msg' }, flashMsg()), summ,
      h('section', { class: 'card', id: 'vms' }, h('h2', {}, h('span', { text: 'Discovered machines' }),
        h('span', { class: 'muted fine', text: plural(x.vms_total || 0, 'machine') + ', gone ones included' })),
      h('div', { class: 'actions' }, search), body, pager));
    every(x.discovering || jobBusy(j) ? 1500 : 15000, g, () => hypervisorPage(v, g, ref));
  }

  /* Push install (job_push.c): one job per machine, its steps shown as
   * they come; the host key is pinned on first use, a changed one stops
   * the job and can be accepted here. */

  const pushSteps = {};   /* job id → the step messages seen while it ran */

  function pushTarget(j) { return (j.args && (j.args.address || j.args.machine)) || '?'; }
  function pushIsUninstall(j) { return !!(j.args && j.args.action === 'uninstall'); }

  function pushPanel(j, retry) {
    const seen = pushSteps[j.id] || (pushSteps[j.id] = []);
    if (j.message && seen[seen.length - 1] !== j.message && !seen.includes(j.message)) seen.push(j.message);
    const steps = j.state === 'succeeded' && j.result && Array.isArray(j.result.steps) ? j.result.steps : seen;
    const busy = jobBusy(j);
    const r = j.result || {};
    const un = pushIsUninstall(j);
    const parts = [h('div', { class: 'bar' }, h('strong', { text: (un ? 'Push uninstall #' + j.id + ' from ' : 'Push install #' + j.id + ' to ') + pushTarget(j) +
      (j.args && j.args.port && j.args.port !== 22 ? ':' + j.args.port : '') }),
      pill(jobStates[j.state] || '', j.state), busy ? [h('progress', { max: 100, value: j.percent }), j.percent + '%'] : null,
      h('span', { class: 'muted fine', text: 'account ' + (j.args && j.args.account) }),
      j.finished_at ? h('span', { class: 'muted fine' }, 'finished ', time(j.finished_at, true)) : null),
    h(steps === seen ? 'ul' : 'ol', { class: 'steps' }, steps.map((s, i) => h('li', { class: busy && i === steps.length - 1 ? 'current' : 'done', text: sentence(s) }))),
    busy ? h('p', { class: 'muted fine', text: 'Steps as this page saw them; the job\'s full list comes with its result.' }) : null];
    if (j.state === 'succeeded' && un) {
      parts.push(r.removed ? msg('ok', 'The agent is removed from ' + (r.address || pushTarget(j)) + '.', !r.machine_id ?
        'It had not enrolled: there was nothing to revoke.' : r.revoked ? 'Machine ' + r.machine_id + ' is revoked: its certificate is ' +
        'on the CRL and it can no longer connect. Its recovery points stay until their retention ends.' : 'Machine ' + r.machine_id +
        ' keeps its enrollment: revoke it on the Machines page if it is not coming back.') :
        msg('ok', 'The agent is not installed on ' + (r.address || pushTarget(j)) + ': nothing to remove.', 'Nothing was changed.'),
      kv([['Host key', h('span', { class: 'mono host-key', text: r.host_key })],
        r.machine_id ? ['Machine', h('a', { href: '#/machines', class: 'mono', text: r.machine_id })] : null]));
    } else if (j.state === 'succeeded') {
      parts.push(msg('ok', 'The agent is installed on ' + (r.address || pushTarget(j)) + '.', 'Machine ' + r.machine_id + ' is ' + r.status +
        '. Give it a policy on the Machines page to protect it.'),
      kv([['Host key', h('span', {}, h('span', { class: 'mono host-key', text: r.host_key }), r.host_key_new ?
        h('span', { class: 'sub', text: 'first connection: recorded (pinned) for the next pushes. Check it against ' +
          '"ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" on the machine.' }) :
          h('span', { class: 'sub', text: (r.steps || []).some((t) => /accepted the new host key/.test(t)) ?
            'the new key you accepted; pinned from now on' : 'matches the pinned key' }))],
      ['System', (r.os || '?') + (r.uname ? ' (' + r.uname + ')' : '')],
      ['Machine', h('a', { href: '#/machines', class: 'mono', text: r.machine_id })], ['Reports to', r.cs]]));
    } else if (j.state === 'failed') {
      const err = j.error || 'the job ended without a reason';
      const ch = err.match(/host key of (\S+) changed: was (\S+), now (\S+)/);
      const first = err.match(/first connection: recorded the host key of (\S+): (\S+)\)/);
      parts.push(msg('error', un ? 'The push uninstall failed.' : 'The push install failed.', err, ch ? null : hintEl(pushHint(err))));
      if (first) parts.push(h('p', { class: 'fine' }, 'Host key recorded on this first connection: ',
        h('span', { class: 'mono host-key', text: first[2] }), '. Later pushes to ' + first[1] + ' require the same key.'));
      if (ch) {
        const btn = h('button', { type: 'button', class: 'danger accept-key', text: 'Accept the new host key and push again' });
        btn.addEventListener('click', async () => {
          if (!await confirmDialog('Accept the new host key of ' + ch[1] + '?', 'Only if the machine was reinstalled or its SSH keys ' +
            'were replaced, and "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub" on its console shows ' + ch[3] + '. Otherwise ' +
            'something may be impersonating it and would receive the account\'s password.', 'Accept and push', true)) return;
          btn.disabled = true;
          const again = { host_key: ch[3] };
          for (const k of ['address', 'machine', 'account', 'port', 'cs', 'wait_s', 'action', 'keep_enrollment'])
            if (j.args && j.args[k] !== undefined) again[k] = j.args[k];
          retry(again);
        });
        parts.push(kv([['Pinned before', h('span', { class: 'mono old-key', text: ch[2] })],
          ['Presented now', h('span', { class: 'mono new-key', text: ch[3] })]]), h('div', { class: 'actions' }, btn));
      }
    }
    return h('section', { class: 'card job push-job', id: 'push-job', 'data-job': j.id, 'data-state': j.state }, parts);
  }
  function pushHint(err) {
    if (/refused the (password|key)/.test(err)) return 'Correct the account\'s username or secret on the Accounts page (Edit), then push again.';
    if (/refused|unreachable|timed out|resolve|No route/i.test(err)) return 'Check the address and SSH port, that sshd runs there, ' +
      'and that this appliance can reach it, then push again.';
    if (/no agent package/.test(err)) return 'Then push again.';
    return 'Fix what it says, then push again.';
  }

  async function push(v, g) {
    const q = new URLSearchParams((location.hash.split('?')[1]) || '');
    const jobId = Number(q.get('job')) || 0, vmId = Number(q.get('vm')) || 0, hvId = q.get('hv');
    let accts, jl, job = null;
    try {
      [accts, jl, job] = await Promise.all([api('GET', '/api/v1/accounts').then((r) => r.accounts || []),
        api('GET', '/api/v1/jobs').then((r) => r.jobs || []), jobId ? api('GET', '/api/v1/jobs/' + jobId) : null]);
    } catch (e) {
      if (g === gen) put(v, head('Install agent'), errorMsg(jobId ? 'Could not read push job #' + jobId + '.' : 'Could not load the page.', e));
      return every(5000, g, () => push(v, g));
    }
    if (vmId && (!pushVm || pushVm.id !== vmId) && hvId) {
      try {
        const x = await api('GET', '/api/v1/hypervisors/' + encodeURIComponent(hvId) + '?limit=1000');
        const m = (x.vms || []).find((m) => m.id === vmId);
        if (m) pushVm = Object.assign({}, m, { hypervisor: x.name });
      } catch (e) { /* the address can still be typed */ }
    }
    if (g !== gen) return;
    const vm = vmId && pushVm && pushVm.id === vmId ? pushVm : null;
    const start = async (body, btn, out) => {
      if (btn) btn.disabled = true;
      try {
        const r = await api('POST', '/api/v1/push-install', body);
        location.hash = '#/push?job=' + r.job;
      } catch (e) {
        if (btn) btn.disabled = false;
        const what = body.action === 'uninstall' ? 'The push uninstall did not start.' : 'The push install did not start.';
        if (out) put(out, errorMsg(what, e));
        else { flash = errorMsg(what, e); push(v, g); }
      }
    };
    const panel = job ? pushPanel(job, (body) => start(body)) : null;
    /* While a job runs, only its panel is redrawn: the form keeps what is typed. */
    const live = $('#push-job');
    if (live && job && jobBusy(job) && v.dataset.job === String(job.id)) {
      live.replaceWith(panel);
      return every(jobBusy(job) ? 1000 : 15000, g, () => push(v, g));
    }
    v.dataset.job = job ? String(job.id) : '';

    const pushAccts = accts.filter((a) => a.kind === 'push');
    const out = h('div', { id: 'push-msg' }, flashMsg());
    const addrs = vm ? (vm.addresses || []) : [];
    const addrSel = addrs.length ? h('select', { id: 'push-address-choice' }, addrs.map((a) => h('option', { value: a, text: a })),
      h('option', { value: '', text: 'Another address…' })) : null;
    const was = job && job.args ? job.args : {};
    const addr = h('input', { id: 'push-address', autocomplete: 'off', spellcheck: false, maxlength: 255,
      placeholder: 'host name or IP address', hidden: !!addrSel, value: was.address || was.machine || null });
    if (addrSel) addrSel.addEventListener('change', () => { addr.hidden = addrSel.value !== ''; if (!addr.hidden) addr.focus(); });
    const port = h('input', { id: 'push-port', inputmode: 'numeric', value: String(was.port || 22), autocomplete: 'off' });
    const acct = h('select', { id: 'push-account' }, pushAccts.map((a) => h('option', { value: a.name,
      text: a.name + ' (' + a.username + (a.sudo ? ', sudo' : '') + ')', selected: a.name === was.account })));
    const hostKey = h('input', { id: 'push-host-key', autocomplete: 'off', spellcheck: false, placeholder: 'SHA256:… (optional)' });
    const btn = h('button', { type: 'submit', class: 'primary', id: 'push-submit', text: 'Install the agent', disabled: !pushAccts.length });
    const unBtn = h('button', { type: 'button', class: 'danger', id: 'push-uninstall', text: 'Uninstall the agent', disabled: !pushAccts.length });
    const keep = h('input', { id: 'push-keep', type: 'checkbox' });
    const field = (id, label, input, note) => h('div', { class: 'field' }, h('label', { for: id, text: label }), input,
      note ? h('span', { class: 'sub', text: note }) : null);
    const form = h('form', { id: 'push-form', novalidate: true, autocomplete: 'off' },
      vm ? h('p', {}, 'Machine ', h('strong', { text: vm.name }), ' on ' + vm.hypervisor + ' · ' + (vm.guest_os || 'unknown OS') + ' · ',
        vm.protectable ? pill('ok', 'protectable') : pill('warn', 'not protectable: ' + (vm.not_protectable_reason || '?'))) : null,
      vm && !addrs.length ? msg('warn', 'Discovery found no IP address for ' + vm.name + '.', 'VMware Tools or the guest agent report ' +
        'them; type the address the appliance reaches it at.') : null,
      h('div', { class: 'fields' },
        h('div', { class: 'field' }, h('label', { for: addrSel ? 'push-address-choice' : 'push-address', text: 'Address' }), addrSel, addr,
          h('span', { class: 'sub', text: addrSel ? 'from discovery, or another' : 'the machine\'s SSH address' })),
        field('push-port', 'SSH port', port),
        field('push-account', 'Push account', acct),
        field('push-host-key', 'Expected host key', hostKey, 'only to accept a changed key; empty: pinned on first use')),
      h('div', { class: 'field check' }, h('label', { for: 'push-keep' }, keep,
        ' When uninstalling, keep the machine\'s enrollment (do not revoke its certificate)')),
      pushAccts.length ? null : msg('warn', 'There is no push install account.', h('span', {}, 'Add one on the ',
        h('a', { href: '#/accounts', text: 'Accounts' }), ' page (kind "Push install"): root, or a user that may use sudo.')),
      h('div', { class: 'actions' }, btn, unBtn,
        h('span', { class: 'muted fine', text: 'The job connects over SSH, checks the host key, uploads the agent package over ' +
          'SFTP, installs it and waits for the agent to enroll and heartbeat. Uninstall removes it the same way.' })), out);
    /* The form's target, checked; null when something is wrong (said). */
    const bad = (...m) => { put(out, msg('error', ...m)); return null; };
    const target = () => {
      const a = (addrSel && addrSel.value) || addr.value.trim();
      if (!a) return bad('The address is missing.', 'Enter the host name or IP address of the machine.');
      if (/\s/.test(a) || a.startsWith('-')) return bad('"' + a + '" is not an address.', 'Enter a host name or IP address.');
      const p = port.value.trim() === '' ? 22 : Number(port.value.trim());
      if (!Number.isInteger(p) || p < 1 || p > 65535) return bad('SSH port "' + port.value + '" is not a port number.',
        'Enter a number from 1 to 65535; sshd listens on 22 unless configured otherwise.');
      if (!acct.value) return bad('Choose a push account.', 'Add one on the Accounts page first.');
      const body = { address: a, account: acct.value };
      if (p !== 22) body.port = p;
      if (hostKey.value.trim()) body.host_key = hostKey.value.trim();
      return body;
    };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = target();
      if (body) start(body, btn, out);
    });
    unBtn.addEventListener('click', async () => {
      const body = target();
      if (!body) return;
      if (!await confirmDialog('Uninstall the agent from ' + body.address + '?', 'The job logs in over SSH as ' + body.account +
        ' (the host key must match the pinned one), runs the installed "haven-agent-install --uninstall": it stops the agent\'s ' +
        'service and removes its program, configuration (/etc/haven) and state directory (/var/lib/haven-agent), then checks that ' +
        'they are gone. ' + (keep.checked ? 'The machine keeps its enrollment.' : 'Then the machine\'s certificate is revoked here: ' +
        'it can no longer connect and replication stops; its recovery points stay.'), 'Uninstall', true)) return;
      body.action = 'uninstall';
      if (keep.checked) body.keep_enrollment = true;
      start(body, unBtn, out);
    });
    const recent = jl.filter((j) => j.kind === 'push').slice(0, 10).map((j) => h('tr', { 'data-job': j.id },
      h('td', { class: 'num' }, h('a', { href: '#/push?job=' + j.id, text: '#' + j.id })),
      h('td', { class: 'mono' }, pushTarget(j), pushIsUninstall(j) ? h('span', { class: 'sub', text: 'uninstall' }) : null),
      h('td', { text: (j.args && j.args.account) || '' }),
      h('td', {}, pill(jobStates[j.state] || '', j.state)),
      h('td', {}, j.error ? h('span', { class: 'error-text', text: j.error.length > 140 ? j.error.slice(0, 137) + '…' : j.error }) :
        (j.message || '—')), h('td', {}, time(j.created_at))));
    put(v, head('Install agent', job ? updated() : 'push install over SSH'), panel,
      h('section', { class: 'card', id: 'push-start' }, h('h2', { text: job ? 'Push again, or to another machine' : 'Push install' }), form),
      h('section', { class: 'card' }, h('h2', { text: 'Recent push installs' }), table(['Job', 'Target', 'Account', 'State', 'Message', 'Started'],
        recent, 'None yet.')),
      h('p', { class: 'muted fine', text: 'A machine this appliance cannot reach: copy the agent package to it and run ' +
        '"install.sh --cs ADDRESS:PORT --token-file FILE" with a one-time token from "havenctl token issue --out FILE" ' +
        '(or --passphrase-file FILE; the passphrase is on the Passphrase page).' }));
    if (job && jobBusy(job)) every(1000, g, () => push(v, g));
  }

  /* --- routing */

  const pages = {
    dashboard: ['Dashboard', dashboard], machines: ['Machines', machines], policies: ['Policies', policies],
    points: ['Recovery points', points], jobs: ['Jobs', jobs],
    certificates: ['Certificates', certificates], passphrase: ['Passphrase', passphrase],
    audit: ['Audit log', audit], account: ['Account', account],
    accounts: ['Accounts', accounts], hypervisors: ['Hypervisor servers', hypervisors], push: ['Install agent', push],
  };

  function route() {
    const g = ++gen;
    stopTimer();
    if (!csrf) return showSignin(null);
    let name = (location.hash.match(/^#\/([a-z]+)/) || [])[1];
    if (!pages[name]) {
      name = 'dashboard';
      history.replaceState(null, '', '#/dashboard');
    }
    const [title, fn] = pages[name];
    document.title = title + ' · Haven';
    $('#signin').hidden = true;
    $('#top').hidden = false;
    $('#who').textContent = user;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === '#/' + name);
    const v = $('#view');
    v.hidden = false;
    if (!v.dataset.page || v.dataset.page !== name) put(v, head(title), h('p', { class: 'muted', text: 'Loading…' }));
    v.dataset.page = name;
    Promise.resolve(fn(v, g)).catch((e) => {
      if (g === gen && e.code !== 'not_signed_in') put(v, head(title), errorMsg('This page failed.', e));
    });
  }

  function start() {
    $('#signin-form').addEventListener('submit', signin);
    $('#signout').addEventListener('click', signout);
    window.addEventListener('hashchange', route);
    for (const t of ['pointerdown', 'keydown'])
      window.addEventListener(t, () => { lastActivity = Date.now(); }, { passive: true });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && timer && csrf) route();
    });
    route();
  }
  start();
})();
