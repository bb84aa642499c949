// Browser tests of the web console (GET /console): Debian's Chromium, headless,
// driven by playwright-core against the real server. One server and one browser for
// the whole file; every wait is bounded, and the file runs in well under 3 minutes.
//   cd tests/browser && npm ci && npm test
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, WsClient, STEP_TIMEOUT_MS, launchBrowser, newPage, signedInPage } from './harness.mjs';

let server;
let browser;
const TIMEOUT = { timeout: STEP_TIMEOUT_MS };
const TEST_TIMEOUT_MS = 60000; // a test that hangs fails instead

before(async () => {
  // Fault injection lets `delay` fail its first attempts (the Retry test).
  server = await Server.start(['--workers', '2', '--enable-fault-injection', '--retry-base-ms', '20']);
  server.seed('acme');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a wrong token is refused and nothing is kept', { timeout: TEST_TIMEOUT_MS }, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/console`);
  const foreign = server.token('mallory', 'acme', ['read', 'admin'], 'another-secret-entirely');
  await page.getByLabel('Token (JWT)').fill(foreign);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.locator('#signin-error');
  await alert.filter({ hasText: 'Sign-in refused' }).waitFor(TIMEOUT);
  assert.match(await alert.textContent(), /bad_signature \(UNAUTHORIZED\)/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(await page.getByRole('navigation').count(), 0);

  await page.getByLabel('Token (JWT)').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await alert.filter({ hasText: 'malformed' }).waitFor(TIMEOUT);
  assert.match(server.log(), /connection_refused/); // the refusal is logged ...
  assert.ok(!server.log().includes(foreign.split('.')[2]), '... but never the token');
  await page.close();
});

test('sign in: the token stays in sessionStorage, out of the URL; page weight and time to interactive', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/console`);
  await page.getByLabel('Token (JWT)').waitFor();
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const mark = performance.getEntriesByName('console-interactive')[0];
    return { dcl: nav.domContentLoadedEventEnd, interactive: mark ? mark.startTime : null, load: nav.loadEventEnd };
  });
  assert.ok(timing.interactive !== null, 'the sign-in form marked itself interactive');
  // Headers a browser needs to keep the page to its own origin.
  const res = await page.request.get(`${server.url}/console/`);
  assert.match(res.headers()['content-security-policy'], /default-src 'none'.*connect-src 'self'/);
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');

  const token = server.token('alice', 'acme', ['read', 'write']);
  // Keyboard only: the token field has the focus on load; Enter signs in.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token');
  await page.keyboard.insertText(token);
  const clicked = Date.now();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Live' }).waitFor(TIMEOUT);
  const signInMs = Date.now() - clicked;
  assert.equal(await page.evaluate(() => sessionStorage.getItem('streamer.console.token')), await Promise.resolve(token));
  assert.ok(!page.url().includes(token.slice(0, 20)), 'token is not in the page URL');
  assert.match(await page.locator('#who').textContent(), /alice @ acme/);
  // The live feed arrives (pushed, about once a second): the running-jobs table exists.
  await page.getByRole('table', { name: 'Running jobs' }).waitFor(TIMEOUT);

  // Keyboard navigation, with a visible focus ring.
  await page.getByRole('link', { name: 'Jobs' }).focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Jobs');
  assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'solid');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Jobs' }).waitFor(TIMEOUT);

  // Weight once signed in: every console file fetched (HTML, CSS, JS), as the
  // browser's resource timing counts them (bodies as served: no compression).
  const weight = await page.evaluate(() => {
    const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
      .filter((e) => e.name.includes('/console'));
    return { files: entries.length, bytes: entries.reduce((n, e) => n + e.decodedBodySize, 0) };
  });
  const { bytes, files } = weight;
  t.diagnostic(`page weight: ${bytes} bytes in ${files} files; DOMContentLoaded ${timing.dcl.toFixed(0)} ms; ` +
    `interactive ${timing.interactive.toFixed(0)} ms; load ${timing.load.toFixed(0)} ms; sign-in to live view ${signInMs} ms`);
  assert.ok(files >= 3, `the page's own files were counted (${files})`);
  assert.ok(bytes < 100 * 1024, `the console stays small (${bytes} bytes)`);

  // A reload keeps the session (same tab), a sign-out forgets it.
  await page.reload();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Token (JWT)').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.ok(!server.log().includes(token.split('.')[2]), 'the token never reaches the server log');
  await page.close();
});

test('playground: a report goes queued -> 100 % -> result, and its download link works', { timeout: TEST_TIMEOUT_MS }, async () => {
  const page = await signedInPage(browser, server, server.token('alice', 'acme'), '#/playground');
  await page.getByRole('heading', { name: 'Playground' }).waitFor(TIMEOUT);
  await page.getByLabel('Action').selectOption('generate_report');
  const example = JSON.parse(await page.getByLabel('Payload (JSON)').inputValue());
  assert.equal(example.format, 'csv');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('#pg-status').filter({ hasText: 'Succeeded' }).waitFor({ timeout: 45000 });
  assert.equal(await page.locator('#pg-progress progress').getAttribute('value'), '100');
  assert.match(await page.locator('#pg-progress').textContent(), /100 %/);
  const log = await page.locator('#pg-log li').allTextContents();
  assert.ok(log.length >= 1 && log[log.length - 1].startsWith('100 %'), `progress reached 100: ${log}`);
  const result = JSON.parse(await page.locator('#pg-result').textContent());

  const link = page.getByRole('link', { name: /^Download / });
  const href = await link.getAttribute('href');
  assert.equal(href, result.url);
  const fetched = await page.evaluate(async (url) => {
    const r = await fetch(url);
    const buf = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, size: buf.length, head: new TextDecoder().decode(buf.slice(0, 200)) };
  }, href);
  assert.equal(fetched.status, 200);
  assert.equal(fetched.size, result.size_bytes);
  assert.ok(fetched.size > 100);
  assert.match(fetched.head, /,/); // a CSV
  await page.close();
});

test('a job submitted by another client appears in the list without a reload', { timeout: TEST_TIMEOUT_MS }, async () => {
  const page = await signedInPage(browser, server, server.token('root', 'ops', ['read', 'admin']), '#/jobs');
  await page.getByRole('table', { name: 'Jobs, newest first' }).waitFor(TIMEOUT);
  const other = await WsClient.open(server, server.token('bob', 'globex'));
  const id = `other-${Date.now()}`;
  other.send(id, 'delay', { duration_ms: 300, steps: 3 });
  await other.next((m) => m.type === 'response' && m.response.request_id === id);
  const row = page.locator(`tr[data-request-id="${id}"]`);
  await row.waitFor(TIMEOUT);
  assert.match(await row.textContent(), /globex.*bob.*delay/);
  other.close();
  await page.close();
});

test('cancel a running job from its page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const token = server.token('carol', 'acme');
  const other = await WsClient.open(server, token);
  const id = `long-${Date.now()}`;
  other.send(id, 'delay', { duration_ms: 60000, steps: 600 });
  await other.next((m) => m.type === 'progress' && m.progress.request_id === id);

  const page = await signedInPage(browser, server, token, `#/job/acme/carol/${id}`);
  const state = page.getByTestId('job-state');
  await state.filter({ hasText: 'running' }).waitFor(TIMEOUT);
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await state.filter({ hasText: 'cancelled' }).waitFor(TIMEOUT);
  const error = await other.next((m) => m.type === 'error' && m.error.request_id === id);
  assert.equal(error.error.code, 'CANCELLED');
  assert.ok(await page.getByRole('button', { name: 'Cancel job' }).isDisabled());
  other.close();
  await page.close();
});

test('retry a failed job from its page: a new attempt of the same request succeeds', { timeout: TEST_TIMEOUT_MS }, async () => {
  const token = server.token('frank', 'acme');
  const other = await WsClient.open(server, token);
  const id = `flaky-${Date.now()}`;
  other.send(id, 'delay', { duration_ms: 10, steps: 1, fail_attempts: 3 }); // 3 attempts: all fail
  const failed = await other.next((m) => m.type === 'error' && m.error.request_id === id, 20000);
  assert.equal(failed.error.code, 'INTERNAL_ERROR');
  other.close();

  const page = await signedInPage(browser, server, token, `#/job/acme/frank/${id}`);
  const state = page.getByTestId('job-state');
  await state.filter({ hasText: 'failed' }).waitFor(TIMEOUT);
  await page.getByRole('button', { name: 'Retry job' }).click();
  await state.filter({ hasText: 'succeeded' }).waitFor(TIMEOUT);
  assert.match(await page.locator('.facts').textContent(), /Attempts4 of/);
  await page.close();
});

test("a job's page shows the progress history the server kept, opened after the job ended", { timeout: TEST_TIMEOUT_MS }, async () => {
  const token = server.token('grace', 'acme');
  const other = await WsClient.open(server, token);
  const id = `steps-${Date.now()}`;
  other.send(id, 'delay', { duration_ms: 1200, steps: 4 });
  await other.next((m) => m.type === 'result' && m.result.request_id === id);
  other.close();

  const page = await signedInPage(browser, server, token, `#/job/acme/grace/${id}`);
  const steps = page.getByTestId('progress-history').locator('li');
  await steps.last().filter({ hasText: '100 %' }).waitFor(TIMEOUT);
  const texts = await steps.allTextContents();
  assert.ok(texts.length >= 3, `several steps: ${JSON.stringify(texts)}`);
  assert.ok(texts.every((t) => /attempt 1/.test(t)), JSON.stringify(texts));
  const percents = texts.map((t) => Number(/, ([\d.]+) %/.exec(t)[1]));
  assert.deepEqual([...percents].sort((a, b) => a - b), percents, 'oldest step first');
  assert.equal(await page.getByRole('img', { name: /^Progress:/ }).count(), 1, 'and a chart of it');
  await page.close();
});

test("a tenant user cannot see another tenant's job, in the console nor through the admin API", { timeout: TEST_TIMEOUT_MS }, async () => {
  const intruder = server.token('eve', 'initech');
  const ownerToken = server.token('dave', 'acme');
  const owner = await WsClient.open(server, ownerToken);
  const id = `secret-${Date.now()}`;
  owner.send(id, 'delay', { duration_ms: 100 });
  await owner.next((m) => m.type === 'result' && m.result.request_id === id);
  owner.close();

  const page = await signedInPage(browser, server, intruder, `#/job/acme/dave/${id}`);
  await page.getByRole('alert').filter({ hasText: 'NOT_FOUND' }).waitFor(TIMEOUT);
  await page.goto(`${server.url}/console/#/jobs`);
  await page.getByRole('table', { name: 'Jobs, newest first' }).waitFor(TIMEOUT);
  await page.locator('.status').filter({ hasText: 'on this page' }).waitFor(TIMEOUT);
  assert.equal(await page.locator(`tr[data-request-id="${id}"]`).count(), 0);

  // The same API the console uses, asked directly by the intruder.
  const direct = await WsClient.open(server, intruder);
  direct.send('g1', 'jobs.get', { request_id: id, tenant_id: 'acme', user_id: 'dave' });
  direct.send('l1', 'jobs.list', { tenant_id: 'acme' });
  const got = await direct.next((m) => m.type === 'error' && m.error.request_id === 'g1');
  assert.equal(got.error.code, 'NOT_FOUND');
  const listed = await direct.next((m) => m.error?.request_id === 'l1' || m.response?.request_id === 'l1');
  assert.equal(listed.type, 'error', `jobs.list of another tenant is refused: ${JSON.stringify(listed)}`);
  direct.close();
  const http = await fetch(`${server.url}/admin/jobs/${id}?tenant_id=acme&user_id=dave`,
    { headers: { Authorization: `Bearer ${intruder}` } });
  assert.equal(http.status, 404);
  const body = await http.text();
  assert.ok(!body.includes('"payload"'));
  await page.close();
});
