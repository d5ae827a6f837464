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
  };
  function sentence(t) {
    t = String(t).trim();
    if (!t) return t;
    t = t[0].toUpperCase() + t.slice(1);
    return /[.!?):]$/.test(t) ? t : t + '.';
  }
  function msg(kind, title, text, hint) {
    return h('div', { class: 'msg ' + kind, role: kind === 'error' ? 'alert' : 'status' },
      title ? h('strong', { text: title }) : null, text ? sentence(text) : null, hint ? [' ', hint] : null);
  }
  function errorMsg(what, err) {
    return msg('error', what, err.message, hints[err.code]);
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
    const [st, ms, al, sto] = await Promise.allSettled([
      api('GET', '/api/v1/status'), api('GET', '/api/v1/machines'),
      api('GET', '/api/v1/alerts'), api('GET', '/api/v1/storage')]);
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

    cards.push(card('Hypervisor servers', pill('', 'Not yet'),
      h('p', { class: 'muted', text: 'Adding vCenter, ESXi and KVM hosts comes with discovery, which this version does not have yet.' })));

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
          m.hostname + ' (its disks show here once it reports).' }));
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
        'policy\'s threshold. A 24-hour chart of RPO and change rate needs a history that havend does not keep yet.' }));
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
      h('td', { class: 'num', text: j.id }), h('td', { class: 'mono', text: j.kind }),
      h('td', {}, pill(states[j.state] || '', j.state)),
      h('td', {}, h('div', { class: 'bar' }, h('progress', { max: 100, value: j.percent }), j.percent + '%')),
      h('td', {}, j.error ? h('span', { class: 'error-text', text: j.error }) : (j.message || '—'),
        j.result ? h('span', { class: 'sub mono', text: summary(j.result) }) : null),
      h('td', { text: j.created_by || '—' }), h('td', {}, time(j.created_at)),
      h('td', {}, j.finished_at ? time(j.finished_at) : h('span', { class: 'muted', text: 'not yet' }))));
    put(v, head('Jobs', updated()),
      h('section', { class: 'card' }, table(['#', 'Kind', 'State', 'Progress', 'Message / result', 'By', 'Created', 'Finished'],
        rows, 'No jobs yet: certificate renewals (and, later, discovery, push installs and failovers) run as jobs.')));
    const busy = list.some((j) => j.state === 'queued' || j.state === 'running');
    every(busy ? 2000 : 10000, g, () => jobs(v, g));
  }
  function summary(r) {
    if (r && r.not_after) return 'valid until ' + r.not_after + (r.serial ? ', serial ' + r.serial : '');
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

  /* --- routing */

  const pages = {
    dashboard: ['Dashboard', dashboard], machines: ['Machines', machines], policies: ['Policies', policies],
    points: ['Recovery points', points], jobs: ['Jobs', jobs],
    certificates: ['Certificates', certificates], passphrase: ['Passphrase', passphrase],
    audit: ['Audit log', audit], account: ['Account', account],
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
