// Browser tests of the accounts, hypervisor servers and push install
// pages.  tests/e2e/run.sh starts havend, the vSphere simulator and (as
// root) an sshd in a network namespace, and runs this file after
// ui.test.mjs; it signs in as its own user, "operator".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set: run tests/e2e/run.sh`);
  return process.env[k];
};
const URL = env('HAVEN_E2E_URL');
const SHOTS = env('HAVEN_E2E_SHOTS');
const password = readFileSync(env('HAVEN_E2E_OPERATOR_PASSWORD_FILE'), 'utf8').trim();
const VC_PORT = Number(env('HAVEN_E2E_VCSIM_PORT'));
const VC_USER = env('VCSIM_USER');
const VC_PASSWORD = env('VCSIM_PASSWORD');
const VC_THUMB = env('HAVEN_E2E_VCSIM_THUMB').toUpperCase();
const PUSH_KEY = readFileSync(env('HAVEN_E2E_PUSH_KEY'), 'utf8');
const SSH_ADDR = process.env.HAVEN_E2E_SSH_ADDR || '';
const SSH_FP = process.env.HAVEN_E2E_SSH_FP || '';
// Secrets typed into the forms: none may ever come back.
const WRONG_PW = 'Wrong-' + Math.random().toString(36).slice(2, 12) + '-pw';
const PUSH_PW = 'Push-' + Math.random().toString(36).slice(2, 12) + '-pw';
const PUSH_PW2 = 'Push2-' + Math.random().toString(36).slice(2, 12) + '-pw';
const VCSIM = join(process.cwd(), '..', 'lib', 'vcsim.sh');
const KEY_BODY = PUSH_KEY.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
const SECRETS = [VC_PASSWORD, WRONG_PW, PUSH_PW, PUSH_PW2, KEY_BODY.slice(0, 40), KEY_BODY.slice(-40)];

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-default-apps', '--disable-extensions',
  '--no-default-browser-check', '--metrics-recording-only', '--disable-domain-reliability'];

let browser, page;
const problems = [];
const answers = [];     // every API answer the page fetched: [url, body]
let pending = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: FLAGS, timeout: 30000 });
  const c = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB', timezoneId: 'UTC',
    viewport: { width: 1280, height: 860 } });
  c.setDefaultTimeout(15000);
  page = await c.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => {
    if (!r.url().includes('/api/')) return;
    pending.push(r.text().then((b) => answers.push([r.url(), b]), () => {}));
  });
});

after(async () => { if (browser) await browser.close(); });

const shot = (name) => page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });
const go = (route) => page.evaluate((r) => { location.hash = r; }, route);
const text = (sel) => page.textContent(sel);
const until = (fn, arg, timeout) => page.waitForFunction(fn, arg, { timeout: timeout || 15000, polling: 250 });

// Nothing secret in the page's HTML nor in any API answer so far.
async function noSecrets(where) {
  await Promise.all(pending);
  pending = [];
  const html = await page.content();
  for (const s of SECRETS) {
    assert.ok(!html.includes(s), `a secret is in the page HTML (${where})`);
    for (const [u, b] of answers) assert.ok(!b.includes(s), `a secret is in the answer of ${u} (${where})`);
  }
  for (const [u, b] of answers) assert.doesNotMatch(b, /"secret"\s*:/, `${u} has a "secret" field`);
}

async function addAccount(a) {
  await page.selectOption('#acc-kind', a.kind);
  await page.fill('#acc-name', a.name);
  await page.fill('#acc-user', a.user);
  if (a.type) await page.selectOption('#acc-secret-type', a.type);
  if (a.type === 'key') await page.fill('#acc-key', a.secret);
  else await page.fill('#acc-password', a.secret);
  if (a.sudo) await page.check('#acc-sudo');
  await page.click('#acc-submit');
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

test('operator signs in; the new pages are in the navigation', async () => {
  await page.goto(URL + '/');
  await page.waitForSelector('#signin-form', { state: 'visible' });
  await page.fill('#signin-name', 'operator');
  await page.fill('#signin-password', password);
  await page.click('#signin-submit');
  await page.waitForSelector('#cs-health');
  for (const r of ['#/hypervisors', '#/accounts']) assert.ok(await page.$(`#nav a[href="${r}"]`), r);
  assert.match(await text('#card-hypervisors'), /None yet: add vCenter, ESXi or KVM hosts/);
});

test('accounts: add, refusals shown, edit keeps the secret unless typed, remove', async () => {
  await go('#/accounts');
  await page.waitForSelector('#account-form');
  assert.match(await text('#view'), /No accounts yet/);
  // The form's own check, then the API's refusal, each saying what to do.
  await page.fill('#acc-name', 'vc-bad');
  await page.fill('#acc-user', VC_USER);
  await page.click('#acc-submit');
  assert.match(await text('#account-msg'), /password is missing.*needs one/);
  await addAccount({ kind: 'vsphere', name: 'vc-bad', user: VC_USER, secret: WRONG_PW });
  await page.waitForSelector('tr[data-name="vc-bad"]');
  const row = await text('tr[data-name="vc-bad"]');
  assert.match(row, /vSphere discovery/);
  assert.match(row, new RegExp(VC_USER));
  assert.match(row, /stored.*encrypted, never shown/);
  assert.match(await text('#account-msg'), /vc-bad is added.*stored encrypted and is never shown again/);
  assert.equal(await page.inputValue('#acc-password'), '', 'the password field is emptied');
  await addAccount({ kind: 'vsphere', name: 'vc-bad', user: VC_USER, secret: WRONG_PW });
  await page.waitForSelector('#account-msg .msg.error');
  const dup = await text('#account-msg');
  assert.match(dup, /account was not added/);
  assert.match(dup, /an account named vc-bad already exists: edit it .* or choose another name/i, 'the API\'s reason, verbatim');
  assert.match(dup, /Choose another name/);
  // A key that is not PEM is refused before it leaves the page.
  await page.fill('#acc-name', 'push-root');
  await page.selectOption('#acc-kind', 'push');
  await page.fill('#acc-user', 'root');
  await page.selectOption('#acc-secret-type', 'key');
  await page.fill('#acc-key', 'ssh-ed25519 AAAA… this is a public key');
  await page.click('#acc-submit');
  assert.match(await text('#account-msg'), /not a private key in PEM form.*not the \.pub file/);
  await page.fill('#acc-key', PUSH_KEY);
  await page.click('#acc-submit');
  await page.waitForSelector('tr[data-name="push-root"]');
  assert.match(await text('tr[data-name="push-root"]'), /Push install\s*logs in as root\s*root\s*stored/);
  await addAccount({ kind: 'push', name: 'push-pw', user: 'deploy', type: 'password', secret: PUSH_PW, sudo: true });
  await page.waitForSelector('tr[data-name="push-pw"]');
  assert.match(await text('tr[data-name="push-pw"]'), /uses sudo\s*deploy/);
  await noSecrets('after adding accounts');
  await shot('20-accounts');

  // Edit without typing a secret: "unchanged", and it stays so.
  const before = (await page.evaluate(async () => (await (await fetch('/api/v1/accounts')).json()).accounts))
    .find((a) => a.name === 'push-pw');
  await page.click('tr[data-name="push-pw"] button.edit');
  assert.equal(await page.isDisabled('#acc-name'), true);
  assert.match(await text('#acc-stored'), /Secret: unchanged/);
  assert.equal(await page.getAttribute('#acc-password', 'placeholder'), 'unchanged');
  assert.equal(await page.inputValue('#acc-password'), '', 'the stored secret is not in the form');
  await shot('21-accounts-edit');
  await page.fill('#acc-user', 'deployer');
  await page.click('#acc-submit');
  await until(() => /push-pw is saved.*secret is unchanged/.test(document.querySelector('#account-msg').textContent));
  assert.match(await text('tr[data-name="push-pw"]'), /deployer/);
  let after_ = (await page.evaluate(async () => (await (await fetch('/api/v1/accounts')).json()).accounts))
    .find((a) => a.name === 'push-pw');
  assert.equal(after_.secret_changed_at, before.secret_changed_at, 'the secret was not replaced');
  // Typing one replaces it.
  await page.click('tr[data-name="push-pw"] button.edit');
  await page.fill('#acc-password', PUSH_PW2);
  await page.click('#acc-submit');
  await until(() => /push-pw is saved.*stored encrypted/.test(document.querySelector('#account-msg').textContent));
  after_ = (await page.evaluate(async () => (await (await fetch('/api/v1/accounts')).json()).accounts))
    .find((a) => a.name === 'push-pw');
  assert.equal(after_.has_secret, true);
  // Remove, after confirming.
  await page.click('tr[data-name="push-pw"] button.delete');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await until(() => /push-pw is removed/.test(document.querySelector('#account-msg').textContent));
  assert.equal(await page.$('tr[data-name="push-pw"]'), null);
  await noSecrets('after editing and removing');
});

test('a vSphere server is added: its thumbprint is shown to accept; a wrong password shows the error', async () => {
  await go('#/hypervisors');
  await page.waitForSelector('#hv-form');
  assert.equal(await page.inputValue('#hv-port'), '443', 'port 443 by default');
  await page.fill('#hv-name', 'vc1');
  await page.fill('#hv-address', '127.0.0.1');
  await page.fill('#hv-port', String(VC_PORT));
  await page.selectOption('#hv-account', 'vc-bad');
  await page.click('#hv-submit');
  await page.waitForSelector('tr[data-name="vc1"]');
  assert.match(await text('#hv-msg'), /vc1 is added.*thumbprint is being fetched/);
  // The probe job fetches the thumbprint; nothing else is sent.
  await page.waitForSelector('[data-thumb="vc1"] .thumbprint', { timeout: 20000 });
  assert.equal((await text('[data-thumb="vc1"] .thumbprint')).toUpperCase(), VC_THUMB, 'the simulator\'s SHA-256 thumbprint');
  assert.match(await text('[data-thumb="vc1"]'), new RegExp('First connection to 127.0.0.1:' + VC_PORT + ': check its certificate'));
  await until(() => /Thumbprint to accept/.test(document.querySelector('tr[data-name="vc1"] .status').textContent));
  await shot('22-hypervisor-thumbprint');
  await page.click('[data-thumb="vc1"] button.accept');
  // Accepting starts a discovery: the wrong password ends it with a reason.
  await page.waitForSelector('tr[data-detail="vc1"] .disc-job[data-state="failed"]', { timeout: 30000 });
  const detail = await text('tr[data-detail="vc1"]');
  assert.match(detail, /Discovery failed/);
  assert.match(detail, /wrong username or password/i);
  assert.match(await text('tr[data-name="vc1"] .status'), /Error/);
  assert.match(await text('#hv-msg'), /Accepting the thumbprint: discovery of vc1 started \(job #\d+\)/);
  await shot('23-hypervisor-wrong-password');
  await noSecrets('after the failed discovery');
});

test('removing an account in use is refused, saying which server uses it', async () => {
  await go('#/accounts');
  await page.waitForSelector('tr[data-name="vc-bad"]');
  assert.match(await text('tr[data-name="vc-bad"] .used-by'), /vc1/);
  await page.click('tr[data-name="vc-bad"] button.delete');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('#account-msg .msg.error');
  const m = await text('#account-msg');
  assert.match(m, /vc-bad was not removed/);
  assert.match(m, /account vc-bad is used by hypervisor vc1: remove it or give it another account first/i, 'the API\'s reason, verbatim');
  assert.match(m, /On the Hypervisors page, give each of those servers another account/);
  assert.ok(await page.$('tr[data-name="vc-bad"]'), 'still there');
  await shot('24-accounts-remove-refused');
});

test('with the right password, "Refresh server" runs a discovery job and lists the machines', async () => {
  // Fix the account: type the right password.
  await page.click('tr[data-name="vc-bad"] button.edit');
  await page.fill('#acc-password', VC_PASSWORD);
  await page.click('#acc-submit');
  await until(() => /vc-bad is saved.*stored encrypted/.test(document.querySelector('#account-msg').textContent));
  await go('#/hypervisors');
  await page.waitForSelector('tr[data-name="vc1"] button.refresh:not([disabled])');
  await page.click('tr[data-name="vc1"] button.refresh');
  await page.waitForSelector('tr[data-detail="vc1"] .disc-job[data-state="succeeded"]', { timeout: 30000 });
  assert.match(await text('tr[data-detail="vc1"] .disc-job'),
    /Discovery job #\d+\s*succeeded.*12 machines on vc1 \(12 new, 0 gone, 0 back\), \d+ protectable; \d+\.\d s/s);
  await until(() => /Connected/.test(document.querySelector('tr[data-name="vc1"] .status').textContent));
  const row = await text('tr[data-name="vc1"]');
  assert.match(row, /127\.0\.0\.1:\d+\s*vc-bad\s*Connected/);
  assert.match(row, /just now|s ago/);
  assert.match(row, /12\s*\d+ protectable/);
  await shot('25-hypervisors');
  // The machines of the server.
  await page.click('tr[data-name="vc1"] td:first-child a');
  await page.waitForSelector('#vms tr[data-vm]');
  assert.equal((await page.$$('#vms tr[data-vm]')).length, 12);
  const vm0 = await text('#vms tr[data-vm="DC0_C0_RP0_VM0"]');
  assert.match(vm0, /On/);
  assert.match(vm0, /10\.1\.0\.1/, 'the guest IP address');
  assert.match(vm0, /disk-\d+-\d+ 1\.0 MiB/, 'the disk and its size');
  assert.match(vm0, /MiB|GiB/, 'memory');
  // Every fourth VM is powered off: not protectable, and why.
  const off = await text('#vms tr[data-vm="DC0_C0_RP0_VM3"]');
  assert.match(off, /Off/);
  assert.match(off, /No\s*.*powered off/);
  assert.match(await text('#hv-summary'), /Connected/);
  assert.match(await text('#hv-summary'), new RegExp(VC_THUMB.slice(0, 20), 'i'), 'the pinned thumbprint');
  await shot('26-hypervisor-vms');
});

test('a machine that disappears is marked gone after the next discovery', async () => {
  execFileSync('sh', [VCSIM, 'destroy', env('HAVEN_E2E_VCSIM_DIR'), 'DC0_C0_RP0_VM5'],
    { env: { ...process.env, BUILD: env('HAVEN_E2E_BUILD') } });
  const last = await page.getAttribute('#hv-summary .disc-job', 'data-job');
  await page.click('#hv-summary button.refresh');
  await until((j) => { const e = document.querySelector('#hv-summary .disc-job');
    return e && e.dataset.job !== j && e.dataset.state === 'succeeded'; }, last, 30000);
  assert.match(await text('#hv-summary .disc-job'), /11 machines on vc1 \(0 new, 1 gone, 0 back\)/);
  await until(() => /Gone/.test(document.querySelector('#vms tr[data-vm="DC0_C0_RP0_VM5"]')?.textContent || ''));
  assert.match(await text('#vms tr[data-vm="DC0_C0_RP0_VM5"]'), /Gone\s*not seen since/);
  assert.equal(await page.$('#vms tr[data-vm="DC0_C0_RP0_VM5"] button.install'), null, 'no install on a gone machine');
});

test('a changed certificate stops discovery, showing both thumbprints; accepting the new one resumes it', async () => {
  // The simulator again on the same port, with a new certificate.
  const dir = env('HAVEN_E2E_VCSIM_DIR');
  const venv = { ...process.env, BUILD: env('HAVEN_E2E_BUILD') };
  execFileSync('sh', [VCSIM, 'stop', dir], { env: venv });
  rmSync(join(dir, 'cert.pem'));
  rmSync(join(dir, 'key.pem'));
  execFileSync('sh', [VCSIM, 'start', dir, '12', String(VC_PORT)], { env: venv, stdio: ['ignore', 'ignore', 'inherit'] });
  const thumb2 = execFileSync('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-noout', '-fingerprint', '-sha256'])
    .toString().replace(/^.*=/, '').trim().toUpperCase();
  assert.notEqual(thumb2, VC_THUMB);
  await page.click('#hv-summary button.refresh');
  await page.waitForSelector('#hv-summary [data-thumb="vc1"].changed', { timeout: 30000 });
  const t = await text('#hv-summary [data-thumb="vc1"]');
  assert.match(t, new RegExp('The certificate of 127\\.0\\.0\\.1:' + VC_PORT + ' changed: discovery is stopped'));
  assert.match(t, /accept the new thumbprint; otherwise something is impersonating the server/i, 'the job\'s reason');
  assert.equal((await text('#hv-summary .old-thumb')).toUpperCase(), VC_THUMB, 'the accepted thumbprint');
  assert.equal((await text('#hv-summary .new-thumb')).toUpperCase(), thumb2, 'the one presented now');
  assert.match(await text('#hv-summary h2'), /Certificate changed/);
  await shot('26b-hypervisor-certificate-changed');
  await page.click('#hv-summary [data-thumb="vc1"] button.accept');
  await page.waitForSelector('#confirm[open]');
  assert.match(await text('#confirm-text'), /impersonating/);
  await page.click('#confirm-ok');
  await until(() => { const e = document.querySelector('#hv-summary .disc-job');
    return e && e.dataset.state === 'succeeded' && /Connected/.test(document.querySelector('#hv-summary h2').textContent); }, null, 30000);
  assert.match(await text('#hv-summary'), new RegExp(thumb2.slice(0, 23)), 'the new thumbprint is pinned');
  assert.equal(await page.$('#hv-summary [data-thumb]'), null);
});

test('a libvirt host (the test driver) is added without an account and its domains discovered', async () => {
  await go('#/hypervisors');
  await page.waitForSelector('#hv-form');
  await page.selectOption('#hv-kind', 'libvirt');
  assert.equal(await page.isVisible('#hv-address'), false, 'a URI, not an address');
  await page.fill('#hv-name', 'kvm-test');
  await page.fill('#hv-uri', 'test:///default');
  await page.selectOption('#hv-account', '');
  await page.click('#hv-submit');
  await until(() => /Connected/.test(document.querySelector('tr[data-name="kvm-test"] .status')?.textContent || ''), null, 30000);
  assert.match(await text('tr[data-name="kvm-test"]'), /libvirt \(KVM\)\s*test:\/\/\/default\s*none\s*Connected/);
  await shot('25b-hypervisors-two');
  // Edit: a URI libvirt cannot open; the next discovery says why.
  await page.click('tr[data-name="kvm-test"] button.edit');
  assert.equal(await page.inputValue('#hv-uri'), 'test:///default');
  assert.equal(await page.isDisabled('#hv-name'), true, 'the name cannot change');
  await page.fill('#hv-uri', 'test:///haven-e2e-no-such-file.xml');
  await page.click('#hv-submit');
  await until(() => /kvm-test is saved/.test(document.querySelector('#hv-msg').textContent));
  await until(() => /Error/.test(document.querySelector('tr[data-name="kvm-test"] .status')?.textContent || ''), null, 30000);
  const d = await text('tr[data-detail="kvm-test"]');
  assert.match(d, /Cannot discover kvm-test/);
  assert.match(d, /haven-e2e-no-such-file\.xml/, 'libvirt\'s reason');
  assert.match(d, /then Refresh/, 'what to do');
  await shot('25c-hypervisor-libvirt-error');
});

test('a push install to an unreachable address shows the job\'s reason', async () => {
  await go('#/hypervisors/vc1');
  const closed = await freePort();
  await page.waitForSelector('#vms tr[data-vm="DC0_C0_RP0_VM0"] button.install');
  await page.click('#vms tr[data-vm="DC0_C0_RP0_VM0"] button.install');
  await page.waitForSelector('#push-form');
  assert.match(await text('#push-form'), /Machine DC0_C0_RP0_VM0 on vc1/);
  assert.equal(await page.inputValue('#push-address-choice'), '10.1.0.1', 'the address from discovery');
  await page.selectOption('#push-address-choice', '');
  await page.fill('#push-address', '127.0.0.1');
  await page.fill('#push-port', String(closed));
  await page.selectOption('#push-account', 'push-root');
  await page.click('#push-submit');
  await page.waitForSelector('#push-job[data-state="failed"]', { timeout: 30000 });
  const m = await text('#push-job');
  assert.match(m, new RegExp('Push install #\\d+ to 127\\.0\\.0\\.1:' + closed));
  assert.match(m, /The push install failed/);
  assert.match(m, /refused/i, 'the job\'s reason');
  assert.match(m, /Check the address and SSH port/, 'and what to do');
  assert.match(m, /connecting to 127\.0\.0\.1 port \d+/i, 'the steps it got through');
  assert.equal(await page.inputValue('#push-address'), '127.0.0.1', 'the form keeps the target to push again');
  await shot('27-push-unreachable');
  assert.match(await text('#view'), /Recent push installs/);
});

test('a push install to a real sshd: steps, first-use host key, the agent enrolled', { skip: !SSH_ADDR && 'no sshd in a network namespace (needs root)' }, async () => {
  await go('#/hypervisors');
  await page.click('#push-any');
  await page.waitForSelector('#push-form');
  await page.fill('#push-address', SSH_ADDR);
  await page.selectOption('#push-account', 'push-root');
  await page.click('#push-submit');
  await page.waitForSelector('#push-job[data-state="running"], #push-job[data-state="succeeded"]', { timeout: 20000 });
  await page.waitForSelector('#push-job .steps li', { timeout: 20000 });
  await shot('28-push-running');
  await page.waitForSelector('#push-job[data-state="succeeded"], #push-job[data-state="failed"]', { timeout: 120000 });
  const m = await text('#push-job');
  assert.doesNotMatch(m, /failed/, m);
  assert.match(m, /The agent is installed on 10\.200\.0\.6/);
  assert.match(m, /first connection: recorded/);
  assert.equal(await text('#push-job .host-key'), SSH_FP, 'the host key pinned on first use');
  const steps = await page.$$eval('#push-job ol.steps li', (l) => l.map((x) => x.textContent));
  assert.ok(steps.length >= 7, steps.join(' | '));
  assert.match(steps.join('\n'), /logged in as root with a key[\s\S]*uploaded the one-time enrollment token[\s\S]*heartbeating/i);
  await shot('29-push-done');
  const id = (await text('#push-job a.mono')).trim();
  await go('#/machines');
  await page.waitForSelector(`tr[data-id="${id}"]`);
});

test('a changed host key stops the push, showing both keys; accepting it pushes again', { skip: !SSH_ADDR && 'no sshd in a network namespace (needs root)' }, async () => {
  const fp2 = execFileSync('bash', [env('HAVEN_E2E_SSH_REKEY')]).toString().trim();
  assert.notEqual(fp2, SSH_FP);
  await go('#/push');
  await page.waitForSelector('#push-form');
  await page.fill('#push-address', SSH_ADDR);
  await page.selectOption('#push-account', 'push-root');
  await page.click('#push-submit');
  await page.waitForSelector('#push-job[data-state="failed"]', { timeout: 30000 });
  const m = await text('#push-job');
  assert.ok(m.includes(`host key of ${SSH_ADDR}:22 changed: was ${SSH_FP}, now ${fp2}`), m);
  assert.match(m, /Nothing was sent/);
  assert.equal(await text('#push-job .old-key'), SSH_FP);
  assert.equal(await text('#push-job .new-key'), fp2);
  await shot('29b-push-host-key-changed');
  const first = await page.getAttribute('#push-job', 'data-job');
  await page.click('#push-job button.accept-key');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await until((f) => { const e = document.querySelector('#push-job');
    return e && e.dataset.job !== f && /succeeded|failed/.test(e.dataset.state); }, first, 120000);
  assert.equal(await page.getAttribute('#push-job', 'data-state'), 'succeeded', await text('#push-job'));
  assert.equal(await text('#push-job .host-key'), fp2);
  assert.match(await text('#push-job'), /the new key you accepted; pinned from now on/);
  assert.match(await text('#push-job ol.steps'), /accepted the new host key/i);
});

test('"Uninstall the agent" on the pushed machine: confirmed, removed, the machine revoked', { skip: !SSH_ADDR && 'no sshd in a network namespace (needs root)' }, async () => {
  await go('#/push');
  await until(() => !document.querySelector('#push-job') && document.querySelector('#push-form'));
  await page.fill('#push-address', SSH_ADDR);
  await page.selectOption('#push-account', 'push-root');
  await page.click('#push-uninstall');
  await page.waitForSelector('#confirm[open]');
  assert.match(await text('#confirm-text'), /haven-agent-install --uninstall.*state directory.*certificate is revoked/s);
  await shot('29c-push-uninstall-confirm');
  await page.click('#confirm-ok');
  await until(() => { const e = document.querySelector('#push-job');
    return e && /Push uninstall/.test(e.textContent) && /succeeded|failed/.test(e.dataset.state); }, null, 90000);
  const m = await text('#push-job');
  assert.equal(await page.getAttribute('#push-job', 'data-state'), 'succeeded', m);
  assert.ok(m.includes(`The agent is removed from ${SSH_ADDR}`), m);
  assert.match(m, /checked on .*no agent files, service or state directory left/i);
  assert.match(m, /is revoked: its certificate is on the CRL/);
  await shot('29d-push-uninstall-done');
  const id = (await text('#push-job a.mono')).trim();
  await go('#/machines');
  await page.waitForSelector(`tr[data-id="${id}"]`);
  assert.match(await text(`tr[data-id="${id}"]`), /Revoked/);
});

test('the dashboard and the jobs page show discovery and push', async () => {
  await go('#/dashboard');
  await page.waitForSelector('#card-hypervisors tr[data-name="vc1"]');
  assert.match(await text('#card-hypervisors tr[data-name="vc1"]'), /\d+ machines?\s*Connected/);
  assert.match(await text('#card-hypervisors tr[data-name="kvm-test"]'), /Error.*haven-e2e-no-such-file/s);
  assert.match(await text('#card-hypervisors'), /1 server needs attention/);
  await shot('31-dashboard-hypervisors');
  // A phone-sized window: the tables scroll, nothing overlaps.
  await page.setViewportSize({ width: 400, height: 800 });
  await go('#/hypervisors');
  await page.waitForSelector('tr[data-name="vc1"]');
  await shot('32-hypervisors-narrow');
  await page.setViewportSize({ width: 1280, height: 860 });
  await go('#/jobs');
  await page.waitForSelector('tbody tr:has-text("discover")');
  assert.match(await text('#view'), /11 machines on vc1 \(0 new, 1 gone, 0 back\)/);
  assert.match(await text('#view'), /push/);
  await shot('30-jobs-discovery');
});

test('removing a server with a protected machine is refused, naming it', async () => {
  // An agent whose host name is the test driver's domain, "test", with a policy.
  const d = join(env('HAVEN_E2E_STATE'), '..', 'agent-test');
  mkdirSync(d, { recursive: true });
  execFileSync('truncate', ['-s', '64M', join(d, 'disk.img')]);
  writeFileSync(join(d, 'agent.conf'), `state_dir = ${d}/state\ndisks = ${d}/disk.img\n`);
  execFileSync('unshare', ['-u', 'sh', '-c', 'hostname test; exec "$0" "$@"', join(env('HAVEN_BIN'), 'haven-agent'),
    '-c', join(d, 'agent.conf'), 'enroll', '--cs', '127.0.0.1:' + env('HAVEN_E2E_CONTROL_PORT'),
    '--passphrase-file', join(env('HAVEN_E2E_STATE'), 'passphrase')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await go('#/machines');
  const id = (await page.evaluate(async () => (await (await fetch('/api/v1/machines')).json()).machines))
    .find((m) => m.hostname === 'test').id;
  await page.waitForSelector(`tr[data-repl="${id}"] select.policy-select`);
  await page.selectOption(`tr[data-repl="${id}"] select.policy-select`, 'default');
  await page.click(`tr[data-repl="${id}"] button.assign`);
  await until(() => /test now follows the policy default/.test(document.querySelector('#view').textContent));
  await go('#/hypervisors');
  await page.waitForSelector('tr[data-name="kvm-test"]');
  await page.click('tr[data-name="kvm-test"] button.delete');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('#hv-msg .msg.error');
  const m = await text('#hv-msg');
  assert.match(m, /kvm-test was not removed/);
  assert.match(m, /hypervisor kvm-test has protected machines: test.*stop protecting them first/i, 'the API\'s reason, naming the machine');
  assert.match(m, /Stop protecting those machines first \(Revoke on the Machines page\)/);
  assert.ok(await page.$('tr[data-name="kvm-test"]'), 'still there');
  await shot('33-hypervisor-remove-refused');
});

test('a hypervisor server is removed', async () => {
  await go('#/hypervisors');
  await page.waitForSelector('tr[data-name="vc1"]');
  await page.click('tr[data-name="vc1"] button.delete');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await until(() => /vc1 is removed.*\d+ discovered machines forgotten/.test(document.querySelector('#hv-msg').textContent));
  assert.equal(await page.$('tr[data-name="vc1"]'), null);
});

test('no secret reached the page, and no script errors or CSP violations', async () => {
  await noSecrets('at the end');
  assert.ok(answers.length > 20, 'the answers were recorded');
  assert.deepEqual(problems, []);
});
