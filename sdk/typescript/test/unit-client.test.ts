import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { StreamerClient, StreamerError, type StreamerClientOptions } from '../src/index.js';
import type { Progress } from '../src/protocol.js';
import { FakeServer, sleep } from './fake-server.js';

async function setup(t: TestContext, extra: Partial<StreamerClientOptions> = {}) {
  const server = await FakeServer.start();
  const client = new StreamerClient({
    endpoint: server.url,
    token: 'tok-1',
    reconnect: { baseDelayMs: 10, maxDelayMs: 50, jitter: 0 },
    ...extra,
  });
  t.after(async () => {
    await client.close();
    await server.stop();
  });
  return { server, client };
}

async function rejects(p: Promise<unknown>, code: string): Promise<StreamerError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StreamerError, `expected StreamerError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

describe('requests', () => {
  it('connects on first use and resolves a sync request with its data', async (t) => {
    const { server, client } = await setup(t);
    assert.equal(client.state, 'disconnected');
    const p = client.request('health', {}, { metadata: { trace_id: 't1' } });
    const conn = await server.nextConnection();
    assert.equal(conn.token, 'tok-1');
    assert.equal(conn.path, '/production');
    const msg = await conn.next();
    assert.equal(msg.action, 'health');
    assert.deepEqual(msg.payload, {});
    assert.deepEqual(msg.metadata, { trace_id: 't1' });
    assert.match(msg.id, /^\d+-[0-9a-z]{9}$/);
    conn.success(msg.id, { status: 'healthy' });
    assert.deepEqual(await p, { status: 'healthy' });
    assert.equal(client.state, 'connected');
  });

  it('resolves an async request with its result data and streams progress', async (t) => {
    const seen: Progress[] = [];
    const { server, client } = await setup(t, { onProgress: (p) => seen.push(p) });
    const own: number[] = [];
    let queuedInfo: unknown;
    const p = client.request('generate_report', { format: 'pdf' }, { onProgress: (x) => own.push(x.progress), onQueued: (i) => (queuedInfo = i) });
    const conn = await server.nextConnection();
    const msg = await conn.next();
    conn.queued(msg.id, 120);
    conn.progress(msg.id, 30, 'Querying');
    conn.progress('someone-else', 50);
    conn.progress(msg.id, 100, 'Done');
    conn.result(msg.id, { url: 'x' });
    assert.deepEqual(await p, { url: 'x' });
    assert.deepEqual(own, [30, 100]);
    assert.deepEqual(seen.map((x) => [x.progress, x.message]), [[30, 'Querying'], [100, 'Done']]);
    assert.deepEqual(queuedInfo, { requestId: msg.id, estimatedDuration: 120, message: 'Request queued for processing' });
  });

  it('correlates interleaved responses by request_id', async (t) => {
    const { server, client } = await setup(t);
    const a = client.request('echo', { n: 1 });
    const b = client.request('echo', { n: 2 });
    const conn = await server.nextConnection();
    const ma = await conn.next();
    const mb = await conn.next();
    conn.success(mb.id, { n: 2 });
    conn.success(ma.id, { n: 1 });
    assert.deepEqual(await Promise.all([a, b]), [{ n: 1 }, { n: 2 }]);
  });

  it('rejects with StreamerError carrying code, message, details, requestId, retryable', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('generate_report', { start_date: '01/20/2024' });
    const conn = await server.nextConnection();
    const msg = await conn.next();
    conn.error(msg.id, 'VALIDATION_ERROR', 'Invalid date format', { field: 'start_date', expected: 'YYYY-MM-DD', received: '01/20/2024', retryable: false });
    const e = await rejects(p, 'VALIDATION_ERROR');
    assert.equal(e.message, 'Invalid date format');
    assert.equal(e.requestId, msg.id);
    assert.equal(e.retryable, false);
    assert.equal(e.details.field, 'start_date');

    const q = client.request('nope', {});
    const m2 = await conn.next();
    conn.error(m2.id, 'INVALID_ACTION', 'Unknown action: nope');
    await rejects(q, 'INVALID_ACTION');

    const r = client.request('delay', { duration_ms: 10 });
    const m3 = await conn.next();
    conn.queued(m3.id);
    conn.error(m3.id, 'TIMEOUT', 'Handler time limit exceeded', { retryable: true });
    const te = await rejects(r, 'TIMEOUT');
    assert.equal(te.retryable, true);
  });

  it('refuses messages over 1 MB before sending', async (t) => {
    const { server, client } = await setup(t);
    const big = 'x'.repeat(1_048_576);
    const e = await rejects(client.request('echo', { big }), 'MESSAGE_TOO_LARGE');
    assert.equal(e.retryable, false);
    assert.equal(e.details.limit_bytes, 1_048_576);
    assert.equal(server.connections.length, 0, 'nothing was sent, not even a connection');
    // Just under the limit goes through.
    const envelope = JSON.stringify({ id: 'fixed-id', action: 'echo', payload: { big: '' } }).length;
    const ok = client.request('echo', { big: 'x'.repeat(1_048_576 - envelope) }, { id: 'fixed-id' });
    const conn = await server.nextConnection();
    const msg = await conn.next();
    conn.success(msg.id, 'ok');
    assert.equal(await ok, 'ok');
  });

  it('keeps at most 10 requests in flight and queues the rest client-side', async (t) => {
    const { server, client } = await setup(t);
    const ps = Array.from({ length: 15 }, (_, i) => client.request('delay', { i }));
    const conn = await server.nextConnection();
    const first = [];
    for (let i = 0; i < 10; i++) first.push(await conn.next());
    await sleep(50);
    assert.equal(conn.unread.length, 0, 'the 11th must wait');
    assert.equal(client.inFlight, 10);
    assert.equal(client.queued, 5);
    // Queued (async) requests still hold their slot.
    for (const m of first) conn.queued(m.id);
    await sleep(50);
    assert.equal(conn.unread.length, 0);
    conn.result(first[0]!.id, 0);
    conn.result(first[1]!.id, 1);
    const m11 = await conn.next();
    const m12 = await conn.next();
    assert.deepEqual([m11.payload.i, m12.payload.i], [10, 11]);
    await sleep(30);
    assert.equal(conn.unread.length, 0);
    for (const m of first.slice(2)) conn.result(m.id, m.payload.i);
    for (let i = 0; i < 3; i++) {
      const m = await conn.next();
      conn.success(m.id, m.payload.i);
    }
    conn.success(m11.id, 10);
    conn.success(m12.id, 11);
    assert.deepEqual(await Promise.all(ps), Array.from({ length: 15 }, (_, i) => i));
  });

  it('honours a custom maxInFlight', async (t) => {
    const { server, client } = await setup(t, { maxInFlight: 2 });
    const ps = [1, 2, 3].map((i) => client.request('echo', { i }));
    const conn = await server.nextConnection();
    const a = await conn.next();
    await conn.next();
    await sleep(30);
    assert.equal(conn.unread.length, 0);
    conn.success(a.id, 1);
    const c = await conn.next();
    assert.equal(c.payload.i, 3);
    for (const q of ps) q.catch(() => {}); // the rest is rejected by close()
  });

  it('retries RATE_LIMITED answers after retry_after_ms with the same id', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('health', {});
    const conn = await server.nextConnection();
    const m1 = await conn.next();
    const t0 = Date.now();
    conn.error(m1.id, 'RATE_LIMITED', 'Too many requests', { limit: 10, retry_after_ms: 120, retryable: true });
    const m2 = await conn.next();
    assert.ok(Date.now() - t0 >= 110, `retried after ${Date.now() - t0} ms`);
    assert.equal(m2.id, m1.id);
    conn.success(m2.id, 'ok');
    assert.equal(await p, 'ok');
  });

  it('gives up on RATE_LIMITED after maxRateLimitRetries', async (t) => {
    const { server, client } = await setup(t, { maxRateLimitRetries: 2 });
    const p = client.request('health', {});
    const conn = await server.nextConnection();
    for (let i = 0; i < 3; i++) {
      const m = await conn.next();
      conn.error(m.id, 'RATE_LIMITED', 'Too many requests', { retry_after_ms: 5 });
    }
    const e = await rejects(p, 'RATE_LIMITED');
    assert.equal(e.retryable, true);
    assert.equal(e.details.retry_after_ms, 5);
  });
});

describe('timeouts and cancellation', () => {
  it('fails an unanswered request with TIMEOUT', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('health', {}, { timeoutMs: 80 });
    const conn = await server.nextConnection();
    await conn.next();
    const t0 = Date.now();
    const e = await rejects(p, 'TIMEOUT');
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(e.details.source, 'client');
    assert.equal(client.inFlight, 0);
  });

  it('uses requestTimeoutMs by default and cancels a queued job that timed out', async (t) => {
    const { server, client } = await setup(t, { requestTimeoutMs: 100 });
    const p = client.request('delay', { duration_ms: 10_000 });
    const conn = await server.nextConnection();
    const m = await conn.next();
    conn.queued(m.id);
    await rejects(p, 'TIMEOUT');
    const cancel = await conn.nextAction('cancel');
    assert.deepEqual(cancel.payload, { request_id: m.id });
  });

  it('cancels a queued job when cancelled late (queued after the timeout)', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('delay', { duration_ms: 10_000 }, { timeoutMs: 50 });
    const conn = await server.nextConnection();
    const m = await conn.next();
    await rejects(p, 'TIMEOUT');
    conn.queued(m.id); // the server queued it after the client gave up
    const cancel = await conn.nextAction('cancel');
    assert.equal(cancel.payload.request_id, m.id);
  });

  it('aborts through an AbortSignal: rejects CANCELLED and sends cancel', async (t) => {
    const { server, client } = await setup(t);
    const ac = new AbortController();
    const p = client.request('delay', { duration_ms: 10_000 }, { signal: ac.signal });
    const conn = await server.nextConnection();
    const m = await conn.next();
    conn.queued(m.id);
    conn.progress(m.id, 10);
    await sleep(20);
    ac.abort();
    const e = await rejects(p, 'CANCELLED');
    assert.equal(e.requestId, m.id);
    assert.equal(e.details.source, 'client');
    const cancel = await conn.nextAction('cancel');
    assert.deepEqual(cancel.payload, { request_id: m.id });
    conn.success(cancel.id, { request_id: m.id, status: 'cancelling' });
    conn.error(m.id, 'CANCELLED', 'Cancelled'); // ignored: already settled
  });

  it('rejects at once for an already aborted signal, sending nothing', async (t) => {
    const { server, client } = await setup(t);
    const ac = new AbortController();
    ac.abort();
    await rejects(client.request('health', {}, { signal: ac.signal }), 'CANCELLED');
    assert.equal(server.connections.length, 0);
  });

  it('aborting a request still waiting client-side frees nothing on the server', async (t) => {
    const { server, client } = await setup(t, { maxInFlight: 1 });
    const first = client.request('echo', { i: 1 });
    const ac = new AbortController();
    const second = client.request('echo', { i: 2 }, { signal: ac.signal });
    const conn = await server.nextConnection();
    const m = await conn.next();
    ac.abort();
    await rejects(second, 'CANCELLED');
    conn.success(m.id, 1);
    assert.equal(await first, 1);
    await sleep(30);
    assert.equal(conn.unread.length, 0);
  });

  it('client.cancel(id) cancels on the server and the request rejects with CANCELLED', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('delay', { duration_ms: 10_000 }, { id: 'job-1' });
    const conn = await server.nextConnection();
    const m = await conn.next();
    conn.queued(m.id);
    const c = client.cancel('job-1');
    const cm = await conn.nextAction('cancel');
    assert.deepEqual(cm.payload, { request_id: 'job-1' });
    conn.success(cm.id, { request_id: 'job-1', status: 'cancelled' });
    conn.error('job-1', 'CANCELLED', 'Request cancelled');
    assert.deepEqual(await c, { request_id: 'job-1', status: 'cancelled' });
    await rejects(p, 'CANCELLED');
  });

  it('client.cancel of an unknown id rejects NOT_FOUND', async (t) => {
    const { server, client } = await setup(t);
    const c = client.cancel('nope');
    const conn = await server.nextConnection();
    const cm = await conn.nextAction('cancel');
    conn.error(cm.id, 'NOT_FOUND', 'Unknown request');
    const e = await rejects(c, 'NOT_FOUND');
    assert.equal(e.requestId, 'nope');
  });

  it('client.subscribe(id) follows an existing async request', async (t) => {
    const { server, client } = await setup(t);
    const seen: number[] = [];
    const p = client.subscribe('old-job', { onProgress: (x) => seen.push(x.progress) });
    const conn = await server.nextConnection();
    const s = await conn.nextAction('subscribe');
    assert.deepEqual(s.payload, { request_id: 'old-job' });
    conn.success(s.id, { request_id: 'old-job', action: 'delay', status: 'running', progress: { request_id: 'old-job', progress: 40, message: 'm' } });
    conn.progress('old-job', 80);
    conn.result('old-job', { slept_ms: 1 });
    assert.deepEqual(await p, { slept_ms: 1 });
    assert.deepEqual(seen, [40, 80]);
    const e = client.subscribe('missing');
    const s2 = await conn.nextAction('subscribe');
    conn.error(s2.id, 'NOT_FOUND', 'Unknown request');
    await rejects(e, 'NOT_FOUND');
  });

  it('close() rejects pending requests with CLIENT_CLOSED and the client can be reused', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('delay', {});
    const conn = await server.nextConnection();
    await conn.next();
    const rejected = rejects(p, 'CLIENT_CLOSED');
    await client.close();
    await rejected;
    assert.equal(client.state, 'disconnected');
    assert.equal((await conn.closed).code, 1000);
    const q = client.request('health', {});
    const conn2 = await server.nextConnection();
    const m = await conn2.next();
    conn2.success(m.id, 'again');
    assert.equal(await q, 'again');
  });
});

describe('subscribe helper', () => {
  it('a timed-out subscribe stops following without cancelling the job', async (t) => {
    const { server, client } = await setup(t);
    const p = client.subscribe('someone-elses-job', { timeoutMs: 60 });
    const conn = await server.nextConnection();
    const s = await conn.nextAction('subscribe');
    conn.success(s.id, { request_id: 'someone-elses-job', action: 'delay', status: 'running', progress: null });
    await rejects(p, 'TIMEOUT');
    await sleep(50);
    assert.equal(conn.unread.filter((m) => m.action === 'cancel').length, 0);
  });

  it('status() returns the snapshot', async (t) => {
    const { server, client } = await setup(t);
    const p = client.status('job-9');
    const conn = await server.nextConnection();
    const s = await conn.nextAction('subscribe');
    conn.success(s.id, { request_id: 'job-9', action: 'delay', status: 'succeeded', progress: null });
    conn.result('job-9', {}); // the stored terminal message that follows is ignored
    assert.equal((await p).status, 'succeeded');
  });
});
