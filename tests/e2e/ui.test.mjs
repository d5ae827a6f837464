// Browser tests of Haven's admin UI.  tests/e2e/run.sh starts havend and
// MariaDB, enrolls two agents and sets the HAVEN_E2E_* variables; this
// file drives Debian's chromium through playwright-core (no download).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set: run tests/e2e/run.sh`);
  return process.env[k];
};
const URL = env('HAVEN_E2E_URL');
const STATE = env('HAVEN_E2E_STATE');
const SHOTS = env('HAVEN_E2E_SHOTS');
const BUSY = env('HAVEN_E2E_BUSY_ID');
const QUIET = env('HAVEN_E2E_QUIET_ID');
let password = readFileSync(env('HAVEN_E2E_PASSWORD_FILE'), 'utf8').trim();
const lockPassword = readFileSync(join(STATE, '..', 'lock.pass'), 'utf8').trim();

// Keep chromium off the network: no first-run, sync, component updates,
// background fetches or QUIC.  launch() gives it a fresh temporary
// --user-data-dir of its own and removes it on close.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-default-apps', '--disable-extensions',
  '--no-default-browser-check', '--metrics-recording-only', '--disable-domain-reliability'];

let browser, ctx, page, replicator;
const problems = [];   // console errors and CSP violations, any page
const failedRequests = [];   // any page, but those a navigation cancelled

function watch(p) {
  p.on('console', (m) => {
    // A refused API call (401, 403, 429) is logged by chromium: expected.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  p.on('pageerror', (e) => problems.push(String(e)));
  p.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '?';
    if (why !== 'net::ERR_ABORTED') failedRequests.push(`${r.url()}: ${why}`);
  });
  return p;
}

// The form shows once app.js has run.  If it does not, say which request
// failed: net::ERR_NETWORK_CHANGED means the host's addresses or links
// changed during the load and chromium dropped its requests in flight
// (tests/lib/sshd.sh lets its veth pair settle before the browser starts).
async function signinShown(p) {
  try {
    await p.waitForSelector('#signin-form', { state: 'visible' });
  } catch (e) {
    e.message += `\nfailed requests: ${failedRequests.join('; ') || 'none'}`;
    throw e;
  }
}

async function newPage(viewport) {
  const c = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB', timezoneId: 'UTC',
    viewport: viewport || { width: 1280, height: 860 } });
  c.setDefaultTimeout(10000);
  return [c, watch(await c.newPage())];
}

async function shot(p, name) {
  await p.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });
}

async function signIn(p, name, pw) {
  await p.fill('#signin-name', name);
  await p.fill('#signin-password', pw);
  await p.click('#signin-submit');
}

async function go(p, route) {
  await p.evaluate((r) => { location.hash = r; }, route);
}

// Node-side HTTPS (as another client would): not the browser's cookies.
function http(method, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(URL + path, { method, headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: FLAGS, timeout: 30000 });
  [ctx, page] = await newPage();
});

after(async () => {
  if (replicator && replicator.exitCode === null) replicator.kill();
  if (browser) await browser.close();
});

test('the sign-in page loads and admin signs in', async () => {
  const res = await page.goto(URL + '/');
  assert.equal(res.status(), 200);
  const csp = res.headers()['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/, 'served with a CSP');
  await signinShown(page);
  await page.fill('#signin-password', '');
  await shot(page, '01-signin');
  await signIn(page, 'admin', password);
  await page.waitForSelector('#cs-health');
  assert.equal(new globalThis.URL(page.url()).hash, '#/dashboard');
  assert.equal(await page.textContent('#who'), 'admin');
});

test('a wrong password is refused, and five failures lock the account', async () => {
  const [c, p] = await newPage();
  await p.goto(URL + '/');
  await signIn(p, 'locktest', 'not-the-password');
  await p.waitForSelector('#signin-msg .msg.error');
  let text = await p.textContent('#signin-msg');
  assert.match(text, /Sign-in failed/);
  assert.match(text, /wrong user name or password/i);
  assert.match(text, /try again/i, 'says what to do');
  for (let i = 2; i <= 5; i++) {
    await p.evaluate(() => document.querySelector('#signin-msg').replaceChildren());
    await signIn(p, 'locktest', 'still-wrong-' + i);
    await p.waitForFunction(() => document.querySelector('#signin-msg').textContent.length > 0);
  }
  assert.match(await p.textContent('#signin-msg'), /locks for a while/i);
  // Locked now: even the right password is refused, with a 429.
  const answer = p.waitForResponse((r) => r.url().endsWith('/api/v1/session'));
  await signIn(p, 'locktest', lockPassword);
  assert.equal((await answer).status(), 429);
  await p.waitForFunction(() => /locked/.test(document.querySelector('#signin-msg').textContent));
  text = await p.textContent('#signin-msg');
  assert.match(text, /account is locked/i);
  assert.match(text, /more seconds?/i);
  assert.match(text, /havenctl user add/, 'says how to get back in');
  assert.equal(await p.isVisible('#top'), false, 'still signed out');
  await shot(p, '02-signin-locked');
  await c.close();
});

test('the dashboard shows the CS healthy and the agents', async () => {
  await go(page, '#/dashboard');
  await page.waitForSelector('#cs-health');
  assert.equal(await page.textContent('#cs-health'), 'Healthy');
  assert.match(await page.textContent(`#card-agents tr[data-id="${BUSY}"]`), /Connected/);
  // db-01 beat once; three missed 5 s intervals later it is disconnected.
  // Reloading also proves the session survives a page reload.
  const until = Date.now() + 45000;
  for (;;) {
    const row = await page.textContent(`#card-agents tr[data-id="${QUIET}"]`);
    if (/Disconnected/.test(row)) break;
    assert.ok(Date.now() < until, 'db-01 never showed as Disconnected: ' + row);
    await page.waitForTimeout(2000);
    await page.reload();
    await page.waitForSelector(`#card-agents tr[data-id="${QUIET}"]`);
  }
  const agents = await page.textContent('#card-agents');
  assert.match(agents, /1\s*Connected/);
  assert.match(agents, /1\s*Disconnected/);
  assert.match(agents, /just now|s ago/, 'last contact');
  const cert = await page.textContent('#card-cert');
  assert.match(cert, /Expires in (29|30) days/, 'warns within 60 days of expiry');
  assert.match(cert, /renew/i);
  assert.match(await page.textContent('#card-db'), /up/);
  assert.match(await page.textContent('#card-workers'), /shard/);
  await shot(page, '03-dashboard');
  const [c, narrow] = await newPage({ width: 400, height: 800 });
  await narrow.goto(URL + '/');
  await signIn(narrow, 'admin', password);
  await narrow.waitForSelector('#cs-health');
  await shot(narrow, '03-dashboard-narrow');
  await c.close();
});

test('the machines page shows inventory, disks and each machine\'s replication', async () => {
  await go(page, '#/machines');
  const row = await page.waitForSelector(`tr[data-id="${QUIET}"]`);
  const text = await row.textContent();
  assert.match(text, /Disconnected/);
  assert.match(text, /sda\.img\s*20 GiB/);
  assert.match(text, /sdb\.img\s*4\.0 GiB/);
  assert.match(await page.textContent(`tr[data-id="${BUSY}"]`), /Connected.*data\.img\s*32 MiB/s);
  const repl = await page.textContent(`tr[data-repl="${BUSY}"]`);
  assert.doesNotMatch(repl, /not replicating yet/);
  assert.match(repl, /No replication reported yet: start "haven-agent replicate"/);
  assert.match(repl, /no point yet/);
  assert.ok(await page.$(`tr[data-repl="${BUSY}"] select.policy-select`), 'a policy control');
  assert.doesNotMatch(await page.textContent('#view'), /\d+\s*%|RPO \d/, 'no invented replication figures');
  await shot(page, '04-machines');
});

test('a policy is created in the UI, with its failback twin; refusals are shown', async () => {
  await go(page, '#/policies');
  await page.waitForSelector('tr[data-name="default"]');
  assert.ok(await page.$('tr[data-name="default-failback"]'), 'the seed policy\'s twin');
  // The API refuses an RPO threshold below the interval: its reason shows.
  await page.fill('#pol-name', 'gold');
  await page.fill('#pol-crash_interval_s', '2m');
  await page.fill('#pol-rpo_threshold_s', '30');
  await page.click('#pol-submit');
  await page.waitForSelector('#policy-msg .msg.error');
  const err = await page.textContent('#policy-msg');
  assert.match(err, /not created/);
  assert.match(err, /rpo|threshold/i);
  assert.equal(await page.$('tr[data-name="gold"]'), null);
  await shot(page, '11-policies-refused');
  await page.fill('#pol-crash_interval_s', '1m');
  await page.fill('#pol-rpo_threshold_s', '10m');
  await page.fill('#pol-retention_s', '2d');
  await page.click('#pol-submit');
  await page.waitForSelector('tr[data-name="gold"]');
  assert.match(await page.textContent('#policy-msg'), /gold and gold-failback are created/);
  const gold = await page.$$eval('tr[data-name="gold"] td', (t) => t.map((c) => c.textContent));
  assert.deepEqual(gold.slice(1, 4), ['1m', '10m', '2d']);
  const twin = await page.textContent('tr[data-name="gold-failback"]');
  assert.match(twin, /failback twin of gold/);
  assert.match(twin, /1m\s*10m\s*2d/);
  // Edit: the retention changes, the name cannot.
  await page.click('tr[data-name="gold"] button.edit');
  assert.equal(await page.isDisabled('#pol-name'), true);
  await page.fill('#pol-retention_s', '3d');
  await page.click('#pol-submit');
  await page.waitForFunction(() => /gold is saved/.test(document.querySelector('#policy-msg')?.textContent || ''));
  assert.equal(await page.textContent('tr[data-name="gold"] td:nth-child(4)'), '3d');
  await shot(page, '11-policies');
});

test('the policy is assigned to an agent, and its initial sync is watched to the end', async () => {
  await go(page, '#/machines');
  const sel = `tr[data-repl="${BUSY}"] select.policy-select`;
  await page.waitForSelector(sel);
  await page.selectOption(sel, 'gold');
  await page.click(`tr[data-repl="${BUSY}"] button.assign`);
  await page.waitForFunction(() => /web-01 now follows the policy gold/.test(document.querySelector('#view').textContent));
  assert.equal(await page.$eval(sel, (e) => e.value), 'gold');
  assert.match(await page.textContent(`tr[data-repl="${BUSY}"]`), /a point every 1 min, RPO threshold 10 min/);
  // Start replicating: 32 MiB at 2 MiB/s, reported by each 5 s heartbeat.
  replicator = spawn('sh', [env('HAVEN_E2E_REPLICATE')], { stdio: 'ignore' });
  const disk = `tr[data-repl="${BUSY}"] li.disk`;
  await page.waitForSelector(`${disk}[data-state="initial-sync"] progress`, { timeout: 30000 });
  const first = await page.$eval(`${disk} progress`, (e) => e.value);
  assert.match(await page.textContent(disk), /Initial sync\s*\d+%.*left/s, 'percent and ETA');
  await shot(page, '12-machines-initial-sync');
  // It moves, then ends protected.
  await page.waitForFunction(([sel, v]) => {
    const p = document.querySelector(sel + ' progress');
    return !p || p.value > v;
  }, [disk, first], { timeout: 30000 });
  await page.waitForSelector(`${disk}[data-state="protected"]`, { timeout: 60000 });
  assert.match(await page.textContent(disk), /Protected.*32 MiB sent/s);
  // The first point: the achieved RPO, under gold's 10 min threshold.
  await page.waitForFunction((id) => /RPO \d+ s ≤ 10 min/.test(document.querySelector(`tr[data-repl="${id}"] .rpo`).textContent),
    BUSY, { timeout: 30000 });
  assert.match(await page.$eval(`tr[data-repl="${BUSY}"] .rpo .pill`, (e) => e.className), /ok/);
  await shot(page, '12-machines-protected');
});

test('the replicating machine\'s 24 h chart draws its RPO and change rate', async () => {
  await go(page, '#/machines');
  const svg = `tr[data-repl="${BUSY}"] .chart svg.history-chart`;
  // Sampled every 2 s (run.sh); the page fetches the history every 15 s.
  await page.waitForFunction((sel) => {
    const n = (k) => Number(document.querySelector(`${sel} g.series.${k}`)?.dataset.n || 0);
    return n('rpo') >= 1 && n('rate') >= 1;
  }, svg, { timeout: 45000 });
  const c = await page.$eval(svg, (e) => ({
    points: Number(e.dataset.points),
    circles: e.querySelectorAll('g.series.rpo circle').length,
    rateCircles: e.querySelectorAll('g.series.rate circle').length,
    threshold: e.querySelectorAll('line.threshold').length,
    text: e.textContent,
    empty: e.querySelectorAll('.empty-note').length,
  }));
  assert.ok(c.points >= 1 && c.points <= 300, `buckets: ${c.points}`);
  assert.ok(c.circles >= 1 && c.rateCircles >= 1, 'RPO and change-rate points are drawn');
  assert.equal(c.threshold, 1, 'gold\'s 10 min threshold is a line');
  for (const t of ['Achieved RPO', 'Change rate', 'threshold', 'received', 'applied']) assert.ok(c.text.includes(t), t);
  assert.match(c.text, /MB\/s|kB\/s/, 'the rate axis is labelled in bytes per second');
  assert.equal(c.empty, 0);
  assert.equal(await page.locator(`tr[data-repl="${QUIET}"] .chart`).count(), 0, 'no chart without replication');
  await page.locator(`tr[data-repl="${BUSY}"]`).scrollIntoViewIfNeeded();
  await page.locator(`tr[data-repl="${BUSY}"]`).screenshot({ path: join(SHOTS, '12-machines-chart.png') });
  // The empty state, drawn by the same code from an answer without samples.
  const empty = await page.evaluate(() => new Promise((resolve) => {
    const box = document.createElement('div');
    document.querySelector('#view').append(box);
    const now = Math.floor(Date.now() / 1000);
    window.HavenChart.show(box, 'empty-test', () => Promise.resolve({ hours: 24, from: now - 86400, to: now + 300,
      bucket_s: 300, sample_s: 60, rpo_threshold_s: null, points: [] }));
    setTimeout(() => { resolve(box.textContent); box.remove(); }, 100);
  }));
  assert.match(empty, /No samples yet/);
});

test('the recovery points page lists the machine\'s points', async () => {
  await page.click(`tr[data-repl="${BUSY}"] a[href^="#/points/"]`);
  await page.waitForSelector('#points tr[data-point]');
  const text = await page.textContent('#points');
  assert.match(text, /gold/);
  assert.match(text, /crash\s*not crash-consistent\s*read live/, 'snapshot = none: read live');
  assert.match(await page.textContent('#view'), /havenctl recover web-01 --point/);
  assert.equal(await page.$eval('#points-machine', (e) => e.value), BUSY);
  await shot(page, '13-points');
});

test('a change without the CSRF token is refused', async () => {
  const r = await page.evaluate(async () => {
    const out = [];
    for (const headers of [{}, { 'X-CSRF-Token': 'f'.repeat(64) }]) {
      const res = await fetch('/api/v1/passphrase', { method: 'POST', headers, credentials: 'same-origin' });
      out.push([res.status, (await res.json()).error]);
    }
    const ok = await fetch('/api/v1/status', { credentials: 'same-origin' });
    out.push([ok.status]);
    return out;
  });
  assert.equal(r[0][0], 403);
  assert.equal(r[0][1].code, 'csrf');
  assert.match(r[0][1].message, /reload the page/i);
  assert.equal(r[1][0], 403, 'a wrong token is refused too');
  assert.equal(r[2][0], 200, 'the session itself is fine');
});

test('the passphrase is shown only after re-entering the password', async () => {
  const onDisk = readFileSync(join(STATE, 'passphrase'), 'utf8').trim();
  await go(page, '#/passphrase');
  await page.fill('#reveal-password', 'wrong password');
  await page.click('#reveal-form button[type=submit]');
  await page.waitForSelector('#pass-out .msg.error');
  assert.match(await page.textContent('#pass-out'), /password is wrong: enter the password you signed in with/i);
  assert.equal(await page.$('#passphrase'), null);
  await page.fill('#reveal-password', password);
  await page.click('#reveal-form button[type=submit]');
  await page.waitForSelector('#pass-out #passphrase');
  assert.equal(await page.textContent('#passphrase'), onDisk);
  await shot(page, '05-passphrase');
  // Regenerate, after confirming.
  await page.click('#regenerate');
  await page.waitForSelector('#confirm[open]');
  await shot(page, '05-passphrase-confirm');
  await page.click('#confirm-ok');
  await page.waitForSelector('#regen-out #passphrase');
  const fresh = await page.textContent('#regen-out #passphrase');
  assert.notEqual(fresh, onDisk);
  assert.equal(fresh, readFileSync(join(STATE, 'passphrase'), 'utf8').trim());
});

test('renewing the certificate from the UI shows the new expiry', async () => {
  await go(page, '#/certificates');
  await page.waitForSelector('#cert-server .days-left');
  const oldSerial = await page.textContent('#cert-server .serial');
  assert.ok(Number(await page.textContent('#cert-server .days-left')) <= 30);
  assert.match(await page.textContent('#cert-server'), /expires in/i);
  await shot(page, '06-certificates-expiring');
  await page.click('#renew');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => /was renewed/.test(document.querySelector('#renew-msg')?.textContent || ''),
    null, { timeout: 20000 });
  await page.waitForFunction((s) => document.querySelector('#cert-server .serial')?.textContent !== s, oldSerial);
  const days = Number(await page.textContent('#cert-server .days-left'));
  assert.ok(days > 1000, 'renewed for about three years, not ' + days + ' days');
  assert.match(await page.textContent('#renew-msg'), /valid until .*\d{4}.*\(\d+ days left\)/);
  assert.doesNotMatch(await page.textContent('#cert-server'), /expires in/i);
  assert.match(await page.textContent('#cert-server h2'), /Valid/);
  await shot(page, '06-certificates');
});

test('jobs show progress and results', async () => {
  await go(page, '#/jobs');
  const row = await page.waitForSelector('tbody tr:has-text("cert.renew")');
  assert.match(await row.textContent(), /succeeded/);
  assert.equal(await row.$eval('progress', (e) => e.value), 100);
  assert.match(await row.textContent(), /valid until/);
  await shot(page, '07-jobs');
});

test('the audit log lists the sign-in and the changes', async () => {
  await go(page, '#/audit');
  await page.waitForSelector('td.action');
  const rows = await page.$$eval('tbody tr', (trs) => trs.map((t) => [...t.cells].map((c) => c.textContent)));
  const has = (action, actor) => rows.some((r) => r[3] === action && (!actor || r[1] === actor));
  assert.ok(has('session.login', 'admin'), 'the sign-in');
  assert.ok(has('session.login.failed', 'locktest'), 'the failed sign-ins');
  assert.ok(has('passphrase.reveal', 'admin'), 'showing the passphrase');
  assert.ok(has('passphrase.reveal.failed', 'admin'), 'the wrong password for it');
  assert.ok(has('passphrase.generate', 'admin'));
  assert.ok(has('cert.renew', 'admin'));
  assert.ok(rows.filter((r) => r[1] === 'admin').every((r) => r[2] === '127.0.0.1'), 'from where');
  assert.ok(rows.some((r) => r[1] === 'root (havenctl)' && r[2] === 'unix'), 'havenctl on the box');
  await page.fill('#audit-filter', 'locktest');
  assert.ok((await page.$$('tbody tr')).length >= 5);
  await page.fill('#audit-filter', '');
  await shot(page, '08-audit');
});

test('/metrics answers a session or the bearer token, nobody else', async () => {
  const text = await page.evaluate(async () => {
    const r = await fetch('/metrics', { credentials: 'same-origin' });
    return r.status + ' ' + r.headers.get('content-type') + '\n' + await r.text();
  });
  assert.match(text, /^200 text\/plain; version=0\.0\.4/);
  assert.match(text, /^haven_agents_connected 1$/m);
  assert.match(text, /^haven_machines\{status="disconnected"\} 1$/m);
  assert.match(text, /^haven_worker_restarts_total\{slot="\d+",kind="shard"\} 0$/m);
  assert.match(text, /^haven_certificate_days_left\{cert="server"\} 10\d\d$/m);
  assert.match(text, /^haven_uptime_seconds \d+$/m);
  assert.match(text, /^haven_database_up 1$/m);
  assert.match(text, /^haven_storage_free_bytes\{dir="cache"\} \d+$/m);
  assert.equal((await http('GET', '/metrics')).status, 401);
  assert.equal((await http('GET', '/metrics', { Authorization: 'Bearer ' + 'x'.repeat(48) })).status, 401);
  const token = readFileSync(join(STATE, 'metrics.token'), 'utf8').trim();
  const r = await http('GET', '/metrics', { Authorization: 'Bearer ' + token });
  assert.equal(r.status, 200);
  assert.match(r.body, /^haven_agents_connected 1$/m);
  writeFileSync(join(SHOTS, 'metrics.txt'), r.body);
});

test('changing the password needs the current one', async () => {
  await go(page, '#/account');
  const fresh = password + '-new';
  await page.fill('#pw-current', 'wrong');
  await page.fill('#pw-new', fresh);
  await page.fill('#pw-repeat', fresh);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#password-msg .msg.error');
  assert.match(await page.textContent('#password-msg'), /password is wrong/i);
  await page.fill('#pw-current', password);
  await page.fill('#pw-new', fresh);
  await page.fill('#pw-repeat', fresh + 'x');
  await page.click('#password-form button[type=submit]');
  assert.match(await page.textContent('#password-msg'), /differ/);
  await page.fill('#pw-repeat', fresh);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#password-msg .msg.ok');
  password = fresh;
  await shot(page, '09-account');
});

test('a session ended on the server sends the page back to sign-in', async () => {
  // The idle timeout is 30 minutes; ending the session from another
  // client drops it on the server the same way, without the wait.
  const cookie = (await ctx.cookies()).find((c) => c.name === 'haven_session');
  assert.ok(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict', 'cookie flags');
  const csrf = await page.evaluate(() => sessionStorage.getItem('haven.csrf'));
  const r = await http('DELETE', '/api/v1/session',
    { Cookie: 'haven_session=' + cookie.value, 'X-CSRF-Token': csrf });
  assert.equal(r.status, 200);
  await go(page, '#/machines');
  await page.waitForSelector('#signin-form', { state: 'visible' });
  const text = await page.textContent('#signin-msg');
  assert.match(text, /Your session has ended/);
  assert.match(text, /sign in first .*30 minutes idle/i);
  await shot(page, '10-session-ended');
  // Back in, with the new password, on the page asked for.
  await signIn(page, 'admin', password);
  await page.waitForSelector('tr[data-id]');
  assert.equal(new globalThis.URL(page.url()).hash, '#/machines');
});

test('a sign-in in another tab sends this tab back to sign-in on its next change', async () => {
  const other = watch(await ctx.newPage());
  await other.goto(URL + '/');
  await signIn(other, 'admin', password);
  await other.waitForSelector('#cs-health');
  await go(page, '#/passphrase');
  await page.fill('#reveal-password', password);
  await page.click('#reveal-form button[type=submit]');
  await page.waitForSelector('#signin-form', { state: 'visible' });
  assert.match(await page.textContent('#signin-msg'), /another tab sign in/);
  await other.close();
  await signIn(page, 'admin', password);
  await page.waitForSelector('#reveal-form');
});

test('sign out ends the session', async () => {
  await page.click('#signout');
  await page.waitForSelector('#signin-form', { state: 'visible' });
  assert.match(await page.textContent('#signin-msg'), /You are signed out/);
  const st = await page.evaluate(async () => (await fetch('/api/v1/status', { credentials: 'same-origin' })).status);
  assert.equal(st, 401);
});

test('no script errors or CSP violations on any page', () => {
  assert.deepEqual(problems, []);
});
