/*
 * Haven admin UI: the 24-hour chart of a machine's achieved RPO and data
 * change rate, drawn as SVG from GET /api/v1/machines/{id}/history.  No
 * library; text goes in with textContent; colours are SVG attributes
 * (the page's CSP allows no inline style).
 *
 * HavenChart.show(el, machineId, fetchHistory): fills el.  The machines
 * page redraws every few seconds; the history is fetched again only
 * when the copy here is older than REFRESH_MS, so redraws cost nothing.
 */
'use strict';
window.HavenChart = (function () {
  const NS = 'http://www.w3.org/2000/svg';
  const REFRESH_MS = 15000;
  const W = 720, PLOT_L = 64, PLOT_R = 64, H1 = 96, H2 = 72, GAP = 34, TOP = 22;
  const C = { rpo: '#1d4e89', rate: '#17803d', applied: '#8fb99c', thr: '#b3261e',
    grid: '#dde2e9', text: '#5b6675' };
  const cache = {};   /* machine id → { data, at, err, loading } */

  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function dur(s) {
    if (s < 90) return Math.round(s) + ' s';
    if (s < 5400) return Math.round(s / 60) + ' min';
    if (s < 172800) return (Math.round(s / 360) / 10) + ' h';
    return (Math.round(s / 8640) / 10) + ' d';
  }
  function rate(b) {
    const u = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
    let i = 0;
    while (b >= 1000 && i < u.length - 1) { b /= 1000; i++; }
    return (b >= 10 || i === 0 ? Math.round(b) : Math.round(b * 10) / 10) + ' ' + u[i];
  }
  /* 0 and two more round values up to at least max. */
  function ticks(max, unitSteps) {
    const raw = max / 2;
    const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    let step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) || 10 * p;
    if (unitSteps) step = unitSteps.find((s) => s >= raw) || Math.ceil(raw / 86400) * 86400;
    return [0, step, 2 * step];
  }
  const RPO_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const TIME_STEPS = [60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

  function clock(t, withDay) {
    const d = new Date(t * 1000);
    const hm = String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
    return withDay ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + hm : hm;
  }

  /* One panel: y axis, grid, the line(s), labels.  series: [{ key, color, get, width }] */
  function panel(svg, d, y0, h, title, series, ymax, fmt, steps, threshold) {
    const x = (t) => PLOT_L + (t - d.from) / (d.to - d.from) * (W - PLOT_L - PLOT_R);
    const y = (v) => y0 + h - Math.min(v, ymax) / ymax * h;
    svg.append(el('text', { x: PLOT_L, y: y0 - 7, 'font-size': 12, 'font-weight': 600, fill: '#1b2430' }, title));
    for (const v of ticks(ymax * 0.999, steps)) {
      if (v > ymax) continue;
      svg.append(el('line', { x1: PLOT_L, x2: W - PLOT_R, y1: y(v), y2: y(v), stroke: C.grid, 'stroke-width': 1 }));
      svg.append(el('text', { x: PLOT_L - 6, y: y(v) + 4, 'font-size': 10.5, 'text-anchor': 'end', fill: C.text }, fmt(v)));
    }
    if (threshold) {
      svg.append(el('line', { class: 'threshold', x1: PLOT_L, x2: W - PLOT_R, y1: y(threshold), y2: y(threshold),
        stroke: C.thr, 'stroke-width': 1.2, 'stroke-dasharray': '5 4' }));
      svg.append(el('text', { x: W - PLOT_R + 4, y: y(threshold) + 4, 'font-size': 10.5, fill: C.thr },
        'threshold'));
    }
    for (const s of series) {
      const g = el('g', { class: 'series ' + s.key, 'data-n': 0 });
      let run = [], prev = null, n = 0;
      const flush = () => {
        if (run.length > 1) g.append(el('polyline', { points: run.join(' '), fill: 'none', stroke: s.color,
          'stroke-width': s.width || 1.8, 'stroke-linejoin': 'round' }));
        run = [];
      };
      for (const p of d.points) {
        const v = s.get(p);
        /* A bucket with no sample, or no value yet: the line breaks. */
        if (v === null || (prev !== null && p.t - prev > d.bucket_s * 1.5)) flush();
        prev = p.t;
        if (v === null) continue;
        const cx = x(p.t + d.bucket_s / 2), cy = y(v);
        run.push(cx.toFixed(1) + ',' + cy.toFixed(1));
        g.append(el('circle', { cx: cx.toFixed(1), cy: cy.toFixed(1), r: d.points.length > 60 ? 1.2 : 2.2, fill: s.color }));
        n++;
      }
      flush();
      g.setAttribute('data-n', n);
      svg.append(g);
    }
    svg.append(el('line', { x1: PLOT_L, x2: W - PLOT_R, y1: y0 + h, y2: y0 + h, stroke: '#9aa5b1', 'stroke-width': 1 }));
    return x;
  }

  function draw(box, d) {
    const pts = d.points || [];
    const span = d.to - d.from;
    const thr = typeof d.rpo_threshold_s === 'number' ? d.rpo_threshold_s : null;
    const maxRpo = Math.max(1, ...pts.map((p) => p.rpo_s || 0), thr ? thr * 1.15 : 0);
    const rateOf = (p, k) => p[k] / d.bucket_s;
    const maxRate = Math.max(1, ...pts.map((p) => Math.max(rateOf(p, 'bytes_in'), rateOf(p, 'bytes_applied'))));
    const rpoMax = ticks(maxRpo, RPO_STEPS)[2];
    const rateMax = ticks(maxRate)[2];
    const H = TOP + H1 + GAP + H2 + 30;
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', class: 'history-chart',
      'data-points': pts.length, 'font-family': 'system-ui, sans-serif',
      'aria-label': `Achieved RPO and change rate of the last ${d.hours} hours` });
    /* Through the CSSOM, which the CSP allows: not wider than legible. */
    svg.style.maxWidth = W * 1.15 + 'px';
    svg.style.display = 'block';
    svg.append(el('title', {}, `Achieved RPO and data change rate, last ${d.hours} h, ` +
      `${pts.length} bucket${pts.length === 1 ? '' : 's'} of ${dur(d.bucket_s)}`));
    const x = panel(svg, d, TOP, H1, 'Achieved RPO', [{ key: 'rpo', color: C.rpo, get: (p) => p.rpo_s }],
      rpoMax, dur, RPO_STEPS, thr);
    panel(svg, d, TOP + H1 + GAP, H2, 'Change rate', [
      { key: 'applied', color: C.applied, get: (p) => rateOf(p, 'bytes_applied'), width: 1.2 },
      { key: 'rate', color: C.rate, get: (p) => rateOf(p, 'bytes_in') }], rateMax, rate);
    /* Time axis under both panels. */
    const step = TIME_STEPS.find((s) => span / s <= 8) || 86400;
    const yb = TOP + H1 + GAP + H2;
    for (let t = Math.ceil(d.from / step) * step; t <= d.to; t += step) {
      const xt = x(t);
      svg.append(el('line', { x1: xt, x2: xt, y1: TOP, y2: yb, stroke: C.grid, 'stroke-width': 1, 'stroke-dasharray': '2 3' }));
      svg.append(el('text', { x: xt, y: yb + 15, 'font-size': 10.5, 'text-anchor': 'middle', fill: C.text },
        clock(t, step >= 86400)));
    }
    /* Legend. */
    const lg = [[C.rpo, 'RPO'], [C.rate, 'received'], [C.applied, 'applied']];
    let lx = W - PLOT_R - 230;
    for (const [c, t] of lg) {
      svg.append(el('rect', { x: lx, y: yb + 21, width: 10, height: 3, fill: c }));
      svg.append(el('text', { x: lx + 14, y: yb + 26, 'font-size': 10.5, fill: C.text }, t));
      lx += 78;
    }
    if (!pts.length) {
      svg.append(el('text', { class: 'empty-note', x: W / 2, y: TOP + H1 / 2 + 20, 'text-anchor': 'middle',
        'font-size': 13, fill: C.text }, 'No samples yet'));
    }
    const note = document.createElement('p');
    note.className = 'muted fine chart-note';
    note.textContent = pts.length ?
      `Last ${d.hours} h in ${dur(d.bucket_s)} buckets (sampled every ${dur(d.sample_s)}); RPO is the worst disk's, ` +
        'change rate the data received and applied per second.' :
      `No samples yet: havend samples each replicating disk every ${dur(d.sample_s)}; the chart fills in from the first one.`;
    box.replaceChildren(svg, note);
  }

  function fail(box, err) {
    const p = document.createElement('p');
    p.className = 'error-text chart-error';
    p.textContent = 'The RPO chart could not be loaded: ' + ((err && err.message) || String(err)) +
      '. It is retried on the next refresh.';
    box.replaceChildren(p);
  }

  function show(box, id, fetchHistory) {
    box.classList.add('history');
    const c = cache[id] || (cache[id] = { data: null, at: 0, err: null, loading: null });
    if (c.data) draw(box, c.data);
    else if (c.err) fail(box, c.err);
    else box.textContent = 'Loading the RPO chart…';
    if (c.loading || Date.now() - c.at < REFRESH_MS) {
      if (c.loading) c.loading.then(() => box.isConnected && (c.data ? draw(box, c.data) : fail(box, c.err)));
      return;
    }
    c.loading = fetchHistory().then((d) => { c.data = d; c.err = null; }, (e) => { c.err = e; })
      .finally(() => { c.at = Date.now(); c.loading = null; });
    c.loading.then(() => {
      if (!box.isConnected) return;
      if (c.data) draw(box, c.data); else fail(box, c.err);
    });
  }

  return { show };
})();
