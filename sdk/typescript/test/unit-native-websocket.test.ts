/**
 * The client on a WHATWG WebSocket, as in browsers: Node's own (undici) WebSocket,
 * passed through the `WebSocket` option, in a child process started with
 * --experimental-websocket. Covers sync, async with progress, a drop with resume,
 * and a 4401 close code as a browser reports it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FakeServer } from './fake-server.js';
import { PKG_ROOT } from './real-server.js';

it('works with a native (WHATWG) WebSocket class', async (t) => {
  const server = await FakeServer.start();
  let drops = 0;
  server.onConnection = (c) => {
    if (c.token === 'bad') {
      c.error(null, 'UNAUTHORIZED', 'Invalid token', { reason: 'bad_signature' });
      c.close(4401, 'unauthorized');
      return;
    }
    c.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.action === 'health') c.success(m.id, { status: 'healthy' });
      else if (m.action === 'delay') {
        c.queued(m.id);
        c.progress(m.id, 50, 'half');
        if (drops++ === 0) setTimeout(() => c.drop(), 20);
      } else if (m.action === 'subscribe') {
        c.success(m.id, { request_id: m.payload.request_id, status: 'running', progress: { request_id: m.payload.request_id, progress: 50, message: 'half' } });
        c.progress(m.payload.request_id, 100, 'done');
        c.result(m.payload.request_id, { slept_ms: 1 });
      }
    });
  };
  const dir = mkdtempSync(join(tmpdir(), 'streamer-native-'));
  t.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  });
  const entry = pathToFileURL(join(PKG_ROOT, 'dist', 'index.js')).href;
  writeFileSync(
    join(dir, 'native.mjs'),
    `import { StreamerClient } from ${JSON.stringify(entry)};
const base = { endpoint: ${JSON.stringify(server.url)}, WebSocket: globalThis.WebSocket, reconnect: { baseDelayMs: 10 } };
const client = new StreamerClient({ ...base, token: 'good' });
const states = [];
client.on('state', (s) => states.push(s.state + (s.code ? ':' + s.code : '')));
const health = await client.request('health', {});
const progress = [];
const result = await client.request('delay', {}, { onProgress: (p) => progress.push(p.progress) });
await client.close();
const bad = new StreamerClient({ ...base, token: 'bad' });
const err = await bad.request('health', {}).catch((e) => e);
console.log(JSON.stringify({ health, result, progress, states, err: { code: err.code, closeCode: err.closeCode, reason: err.details.reason } }));
`,
  );
  const { stdout } = await promisify(execFile)(process.execPath, ['--no-warnings', '--experimental-websocket', join(dir, 'native.mjs')], { timeout: 20_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(out.health, { status: 'healthy' });
  assert.deepEqual(out.result, { slept_ms: 1 });
  assert.deepEqual(out.progress, [50, 100]);
  assert.deepEqual(out.states, ['connecting', 'connected', 'connecting:1006', 'connected', 'disconnected:1000']);
  assert.deepEqual(out.err, { code: 'UNAUTHORIZED', closeCode: 4401, reason: 'bad_signature' });
});
