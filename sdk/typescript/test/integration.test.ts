/**
 * Integration tests against the real `streamer` binary (../../build/streamer or
 * $STREAMER_BIN). Skipped, with the reason printed, when the binary is missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { StreamerClient, StreamerError, type Progress, type StateChange } from '../src/index.js';
import { binaryMissing, mintToken, PKG_ROOT, RealServer, TENANT } from './real-server.js';

const skip = binaryMissing();
if (skip) {
  console.log(`# integration tests skipped: ${skip}`);
  it('integration tests against the real server', { skip }, () => {});
}

async function rejects(p: Promise<unknown>, code: string): Promise<StreamerError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StreamerError, `expected StreamerError, got ${e}`);
    assert.equal(e.code, code, `${e.code}: ${e.message} ${JSON.stringify(e.details)}`);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

describe('integration with the real server', { skip, timeout: 180_000 }, () => {
  let server: RealServer;
  let client: StreamerClient;

  before(async () => {
    server = await RealServer.start({ seedTenant: TENANT });
    client = new StreamerClient({ endpoint: server.url, token: mintToken() });
  });

  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it('health answers synchronously', async () => {
    const data = await client.request<{ status: string; timestamp: string; version: string }>('health', {});
    assert.equal(data.status, 'healthy');
    assert.equal(typeof data.version, 'string');
    assert.match(data.timestamp, /Z$/);
    assert.equal(client.state, 'connected');
  });

  it('an async delay streams progress and resolves with its result', async () => {
    const seen: Progress[] = [];
    let queued = false;
    const result = await client.request('delay', { duration_ms: 1500, steps: 5 }, { onProgress: (p) => seen.push(p), onQueued: () => (queued = true) });
    assert.deepEqual(result, { slept_ms: 1500, steps: 5 });
    assert.ok(queued, 'answered queued first');
    assert.ok(seen.length >= 2, `progress messages: ${seen.length}`);
    const values = seen.map((p) => p.progress);
    assert.deepEqual(values, [...values].sort((a, b) => a - b), 'monotonic');
    assert.equal(values.at(-1), 100);
  });

  it('VALIDATION_ERROR for a bad delay payload', async () => {
    const e = await rejects(client.request('delay', { duration_ms: -5, steps: 0 }), 'VALIDATION_ERROR');
    assert.equal(e.retryable, false);
    assert.ok(e.requestId);
  });

  it('INVALID_ACTION for an unknown action', async () => {
    await rejects(client.request('no_such_action', {}), 'INVALID_ACTION');
  });

  it('UNAUTHORIZED for process_data without the write permission; the connection stays usable', async () => {
    const reader = new StreamerClient({ endpoint: server.url, token: mintToken({ permissions: ['read'] }) });
    try {
      const e = await rejects(
        reader.request('process_data', { pipeline: 'classification', data_source: { type: 'file', path: '/data/input.csv' }, output: { format: 'json' } }),
        'UNAUTHORIZED',
      );
      assert.equal(e.closeCode, undefined);
      assert.equal((await reader.request<{ status: string }>('health', {})).status, 'healthy');
    } finally {
      await reader.close();
    }
  });

  it('UNAUTHORIZED with close code 4401 for a bad token', async () => {
    const bad = new StreamerClient({ endpoint: server.url, token: mintToken({ secret: 'wrong-secret' }) });
    try {
      const e = await rejects(bad.request('health', {}), 'UNAUTHORIZED');
      assert.equal(e.closeCode, 4401);
      assert.equal(typeof e.details.reason, 'string');
      assert.equal(bad.state, 'disconnected');
    } finally {
      await bad.close();
    }
  });

  it('getToken supplies a new token after a 4401 and the request still succeeds', async () => {
    let n = 0;
    const refreshing = new StreamerClient({
      endpoint: server.url,
      getToken: () => (++n === 1 ? mintToken({ secret: 'stale-secret' }) : mintToken()),
    });
    try {
      assert.equal((await refreshing.request<{ status: string }>('health', {})).status, 'healthy');
      assert.equal(n, 2);
    } finally {
      await refreshing.close();
    }
  });

  it('NOT_FOUND for subscribe/cancel of an unknown request', async () => {
    await rejects(client.subscribe('no-such-request'), 'NOT_FOUND');
    await rejects(client.cancel('no-such-request'), 'NOT_FOUND');
  });

  it('CANCELLED after cancel, and TIMEOUT (client side) cancels the job on the server', async () => {
    const id = `cancel-me-${Date.now()}`;
    let queuedResolve!: () => void;
    const queued = new Promise<void>((r) => (queuedResolve = r));
    const p = client.request('delay', { duration_ms: 10_000, steps: 10 }, { id, onQueued: () => queuedResolve() });
    await queued;
    const answer = await client.cancel(id);
    assert.ok(['cancelled', 'cancelling'].includes(answer.status), answer.status);
    await rejects(p, 'CANCELLED');

    const id2 = `time-me-out-${Date.now()}`;
    await rejects(client.request('delay', { duration_ms: 10_000, steps: 10 }, { id: id2, timeoutMs: 500 }), 'TIMEOUT');
    const deadline = Date.now() + 10_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await client.status(id2)).status;
      if (status === 'cancelled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'cancelled');
  });

  it('RATE_LIMITED answers are retried transparently', async () => {
    const limited = await RealServer.start({ flags: ['--max-concurrent-requests', '2', '--workers', '6'] });
    const c = new StreamerClient({ endpoint: limited.url, token: mintToken(), maxInFlight: 5 });
    try {
      const results = await Promise.all([0, 1, 2, 3, 4].map(() => c.request('delay', { duration_ms: 200, steps: 1 })));
      assert.equal(results.length, 5);
      for (const r of results) assert.deepEqual(r, { slept_ms: 200, steps: 1 });
    } finally {
      await c.close();
      await limited.stop();
    }
  });

  it('survives kill -9 and a restart in the middle of a delay', async () => {
    const s = await RealServer.start();
    const states: StateChange[] = [];
    const seen: number[] = [];
    const c = new StreamerClient({
      endpoint: s.url,
      token: mintToken(),
      reconnect: { baseDelayMs: 250, maxAttempts: 10 },
      onStateChange: (x) => states.push(x),
    });
    try {
      let firstProgress!: () => void;
      const progressed = new Promise<void>((r) => (firstProgress = r));
      const p = c.request('delay', { duration_ms: 4000, steps: 8 }, {
        onProgress: (x) => {
          seen.push(x.progress);
          firstProgress();
        },
      });
      await progressed;
      await s.kill9();
      await new Promise((r) => setTimeout(r, 300));
      await s.restart();
      const result = await p;
      assert.deepEqual(result, { slept_ms: 4000, steps: 8 });
      assert.ok(states.some((x) => x.state === 'connecting' && x.code === 1006), JSON.stringify(states));
      assert.equal(states.at(-1)?.state, 'connected');
      assert.equal(seen.at(-1), 100);
    } finally {
      await c.close();
      await s.stop();
    }
  });

  it("the README's example runs as written (endpoint and package name aside)", async () => {
    // Extract the first ```typescript block of the README, which is the seed's example.
    const readme = readFileSync(join(PKG_ROOT, 'README.md'), 'utf8');
    const block = /```typescript\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README has a typescript example');
    const code = block
      .replace("'wss://streamer.example.com/production'", JSON.stringify(server.url))
      .replace("'your-jwt-token'", JSON.stringify(mintToken()));
    // Run it as a module that imports the built package by its name.
    const dir = mkdtempSync(join(server.dataDir, 'readme-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(PKG_ROOT, join(dir, 'node_modules', 'streamer-client'));
    writeFileSync(join(dir, 'example.mjs'), `${code}\nconsole.log(JSON.stringify({ healthResult, reportResult }));\nawait client.close();\n`);
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'example.mjs')], { timeout: 170_000 });
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(last.healthResult.status, 'healthy');
    assert.ok(last.reportResult.url, JSON.stringify(last.reportResult));
    assert.match(stdout, /\d+(\.\d+)?% - /, 'progress printed');
  });
});
