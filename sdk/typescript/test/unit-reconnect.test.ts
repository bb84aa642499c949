import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { StreamerClient, StreamerError, type StateChange, type StreamerClientOptions } from '../src/index.js';
import { FakeServer, sleep } from './fake-server.js';

async function setup(t: TestContext, extra: Partial<StreamerClientOptions> = {}) {
  const server = await FakeServer.start();
  const states: StateChange[] = [];
  const client = new StreamerClient({
    endpoint: server.url,
    token: 'tok-1',
    reconnect: { baseDelayMs: 10, maxDelayMs: 50, jitter: 0 },
    onStateChange: (c) => states.push(c),
    ...extra,
  });
  t.after(async () => {
    await client.close();
    await server.stop();
  });
  return { server, client, states };
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

describe('reconnect and resume', () => {
  it('resumes a queued job with subscribe after the socket drops mid-job', async (t) => {
    const { server, client, states } = await setup(t);
    const seen: number[] = [];
    const p = client.request('delay', { duration_ms: 4000, steps: 4 }, { onProgress: (x) => seen.push(x.progress) });
    const c1 = await server.nextConnection();
    const m = await c1.next();
    c1.queued(m.id);
    c1.progress(m.id, 25, 'step 1');
    await sleep(20);
    c1.drop();
    const c2 = await server.nextConnection();
    const s = await c2.nextAction('subscribe');
    assert.deepEqual(s.payload, { request_id: m.id });
    // The snapshot repeats the progress already seen (dropped), then the job goes on.
    c2.success(s.id, { request_id: m.id, action: 'delay', status: 'running', attempts: 1, progress: { request_id: m.id, progress: 25, message: 'step 1' } });
    c2.progress(m.id, 50, 'step 2');
    c2.progress(m.id, 100, 'step 4');
    c2.result(m.id, { slept_ms: 4000, steps: 4 });
    assert.deepEqual(await p, { slept_ms: 4000, steps: 4 });
    assert.deepEqual(seen, [25, 50, 100]);
    assert.equal(c2.received.filter((x) => x.action === 'delay').length, 0, 'the job is not sent twice');
    assert.deepEqual(
      states.map((s) => [s.state, s.code]),
      [
        ['connecting', undefined],
        ['connected', undefined],
        ['connecting', 1006],
        ['connected', undefined],
      ],
    );
  });

  it('a job that finished while disconnected resolves from the stored result', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('delay', {});
    const c1 = await server.nextConnection();
    const m = await c1.next();
    c1.queued(m.id);
    c1.drop();
    const c2 = await server.nextConnection();
    const s = await c2.nextAction('subscribe');
    c2.success(s.id, { request_id: m.id, action: 'delay', status: 'succeeded', progress: { request_id: m.id, progress: 100 } });
    c2.result(m.id, 'stored');
    assert.equal(await p, 'stored');
  });

  it('re-sends a request that was not answered yet, with the same id', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('delay', { duration_ms: 5 });
    const c1 = await server.nextConnection();
    const m1 = await c1.next();
    c1.drop();
    const c2 = await server.nextConnection();
    const m2 = await c2.next();
    assert.equal(m2.id, m1.id);
    assert.deepEqual(m2.payload, m1.payload);
    c2.queued(m2.id);
    c2.result(m2.id, 'done');
    assert.equal(await p, 'done');
  });

  it('re-sends the request itself when subscribe answers NOT_FOUND', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('delay', {});
    const c1 = await server.nextConnection();
    const m = await c1.next();
    c1.queued(m.id);
    c1.drop();
    const c2 = await server.nextConnection();
    const s = await c2.nextAction('subscribe');
    c2.error(s.id, 'NOT_FOUND', 'Unknown request');
    const again = await c2.nextAction('delay');
    assert.equal(again.id, m.id);
    c2.result(m.id, 'ok');
    assert.equal(await p, 'ok');
  });

  it('reconnects silently and at once after 1001 (lifetime reached)', async (t) => {
    const { server, client, states } = await setup(t, { reconnect: { baseDelayMs: 5000, jitter: 0 } });
    const p = client.request('delay', {});
    const c1 = await server.nextConnection();
    const m = await c1.next();
    c1.queued(m.id);
    const t0 = Date.now();
    c1.close(1001, 'connection lifetime reached');
    const c2 = await server.nextConnection();
    assert.ok(Date.now() - t0 < 2500, 'no backoff (5 s)');
    const s = await c2.nextAction('subscribe');
    c2.success(s.id, { request_id: m.id, status: 'running', progress: null });
    c2.result(m.id, 1);
    assert.equal(await p, 1);
    assert.ok(!states.some((s) => s.state === 'disconnected'), 'never reported disconnected');
  });

  it('reconnects after 1012 (drain) with backoff', async (t) => {
    const { server, client } = await setup(t, { reconnect: { baseDelayMs: 150, jitter: 0 } });
    const p = client.request('delay', {});
    const c1 = await server.nextConnection();
    const m = await c1.next();
    c1.queued(m.id);
    const t0 = Date.now();
    c1.close(1012, 'server shutting down');
    const c2 = await server.nextConnection();
    assert.ok(Date.now() - t0 >= 140, `waited ${Date.now() - t0} ms`);
    const s = await c2.nextAction('subscribe');
    c2.success(s.id, { request_id: m.id, status: 'queued', progress: null });
    c2.result(m.id, 2);
    assert.equal(await p, 2);
  });

  it('reconnects and resubscribes after 1013 (slow consumer)', async (t) => {
    const { server, client } = await setup(t);
    const ps = [client.request('delay', { i: 0 }), client.request('delay', { i: 1 })];
    const c1 = await server.nextConnection();
    const a = await c1.next();
    const b = await c1.next();
    c1.queued(a.id);
    c1.queued(b.id);
    c1.close(1013, 'slow consumer');
    const c2 = await server.nextConnection();
    const s1 = await c2.nextAction('subscribe');
    const s2 = await c2.nextAction('subscribe');
    assert.deepEqual(new Set([s1.payload.request_id, s2.payload.request_id]), new Set([a.id, b.id]));
    c2.result(a.id, 'a');
    c2.result(b.id, 'b');
    assert.deepEqual(await Promise.all(ps), ['a', 'b']);
  });

  it('reconnects after 4429 no sooner than retry_after_ms', async (t) => {
    const { server, client } = await setup(t);
    const p = client.request('health', {});
    const c1 = await server.nextConnection();
    c1.error(null, 'RATE_LIMITED', 'Too many connections', { reason: 'connection_rate', retry_after_ms: 200 });
    const t0 = Date.now();
    c1.close(4429, 'rate limited');
    const c2 = await server.nextConnection();
    assert.ok(Date.now() - t0 >= 180, `waited ${Date.now() - t0} ms`);
    const m = await c2.nextAction('health');
    c2.success(m.id, 'ok');
    assert.equal(await p, 'ok');
  });

  it('gives up after maxAttempts and rejects with CONNECTION_FAILED', async (t) => {
    const { server, client, states } = await setup(t, { reconnect: { maxAttempts: 2, baseDelayMs: 10, jitter: 0 } });
    const p = client.request('delay', {});
    const c1 = await server.nextConnection();
    const m = await c1.next();
    c1.queued(m.id);
    await server.stop();
    const e = await rejects(p, 'CONNECTION_FAILED');
    assert.equal(e.retryable, true);
    assert.equal(e.requestId, m.id);
    const last = states.at(-1)!;
    assert.equal(last.state, 'disconnected');
    assert.equal(last.error?.code, 'CONNECTION_FAILED');
  });

  it('keeps going across several drops, each resumed', async (t) => {
    const { server, client } = await setup(t);
    const seen: number[] = [];
    const p = client.request('delay', {}, { onProgress: (x) => seen.push(x.progress) });
    let c = await server.nextConnection();
    const m = await c.next();
    c.queued(m.id);
    for (let i = 1; i <= 3; i++) {
      c.progress(m.id, i * 20);
      await sleep(10);
      c.drop();
      c = await server.nextConnection();
      const s = await c.nextAction('subscribe');
      c.success(s.id, { request_id: m.id, status: 'running', progress: { request_id: m.id, progress: i * 20 } });
    }
    c.result(m.id, 'end');
    assert.equal(await p, 'end');
    assert.deepEqual(seen, [20, 40, 60]);
  });
});

describe('authentication', () => {
  it('refreshes the token through getToken on 4401 token_expired and resumes', async (t) => {
    let n = 0;
    const { server, client } = await setup(t, { token: undefined, getToken: async () => `tok-${++n}` });
    const p = client.request('delay', {});
    const c1 = await server.nextConnection();
    assert.equal(c1.token, 'tok-1');
    const m = await c1.next();
    c1.queued(m.id);
    c1.error(null, 'UNAUTHORIZED', 'Token expired', { reason: 'token_expired', retryable: false });
    c1.close(4401, 'token expired');
    const c2 = await server.nextConnection();
    assert.equal(c2.token, 'tok-2');
    const s = await c2.nextAction('subscribe');
    assert.equal(s.payload.request_id, m.id);
    c2.result(m.id, 'fresh');
    assert.equal(await p, 'fresh');
    assert.equal(n, 2);
  });

  it('gets the token once per connection need, not per request', async (t) => {
    let n = 0;
    const { server, client } = await setup(t, { token: undefined, getToken: () => `tok-${++n}` });
    const p1 = client.request('health', {});
    const c = await server.nextConnection();
    const m1 = await c.next();
    c.success(m1.id, 1);
    await p1;
    const p2 = client.request('health', {});
    const m2 = await c.next();
    c.success(m2.id, 2);
    await p2;
    assert.equal(n, 1);
  });

  it('fails with UNAUTHORIZED on 4401 when there is no getToken', async (t) => {
    const { server, client, states } = await setup(t);
    const p = client.request('health', {});
    const c1 = await server.nextConnection();
    c1.error(null, 'UNAUTHORIZED', 'Invalid token', { reason: 'bad_signature', retryable: false });
    c1.close(4401, 'unauthorized');
    const e = await rejects(p, 'UNAUTHORIZED');
    assert.equal(e.details.reason, 'bad_signature');
    assert.equal(e.closeCode, 4401);
    assert.equal(e.retryable, false);
    assert.equal(states.at(-1)?.state, 'disconnected');
    assert.equal(states.at(-1)?.code, 4401);
    await sleep(50);
    assert.equal(server.connections.length, 1, 'no reconnect');
  });

  it('stops refreshing when every new token is rejected too', async (t) => {
    let n = 0;
    const { server, client } = await setup(t, { token: undefined, getToken: () => `bad-${++n}`, reconnect: { maxAttempts: 3, baseDelayMs: 10 } });
    server.onConnection = (c) => {
      c.error(null, 'UNAUTHORIZED', 'Invalid token', { reason: 'bad_signature' });
      c.close(4401);
    };
    const e = await rejects(client.request('health', {}), 'UNAUTHORIZED');
    assert.equal(e.details.reason, 'bad_signature');
    assert.equal(server.connections.length, 4);
  });

  it('fails with UNAUTHORIZED on 4403 (forbidden tenant) without reconnecting', async (t) => {
    const { server, client } = await setup(t, { token: undefined, getToken: () => 'tok' });
    const p = client.request('health', {});
    const c1 = await server.nextConnection();
    c1.error(null, 'UNAUTHORIZED', 'Tenant not allowed', { reason: 'forbidden_tenant' });
    c1.close(4403);
    const e = await rejects(p, 'UNAUTHORIZED');
    assert.equal(e.details.reason, 'forbidden_tenant');
    assert.equal(e.closeCode, 4403);
    await sleep(50);
    assert.equal(server.connections.length, 1);
  });

  it('a getToken that throws counts as a failed attempt', async (t) => {
    let n = 0;
    const { server, client } = await setup(t, {
      token: undefined,
      getToken: () => {
        if (++n < 3) throw new Error('auth server down');
        return 'tok';
      },
    });
    const p = client.request('health', {});
    const c = await server.nextConnection();
    const m = await c.next();
    c.success(m.id, 'ok');
    assert.equal(await p, 'ok');
    assert.equal(n, 3);
  });
});

describe('events and close codes', () => {
  it('emits typed connecting/connected/disconnected events', async (t) => {
    const { server, client } = await setup(t);
    const log: string[] = [];
    client.on('connecting', (e) => log.push(`connecting:${e.code ?? ''}`));
    client.on('connected', () => log.push('connected'));
    client.on('disconnected', (e) => log.push(`disconnected:${e.code}`));
    client.connect();
    const c1 = await server.nextConnection();
    await sleep(20);
    c1.drop();
    await server.nextConnection();
    await sleep(20);
    await client.close();
    assert.deepEqual(log, ['connecting:', 'connected', 'connecting:1006', 'connected', 'disconnected:1000']);
  });

  it('on 1009 fails the largest unanswered request and re-sends the others', async (t) => {
    const { server, client } = await setup(t);
    const small = client.request('echo', { s: 'a' });
    const big = client.request('echo', { s: 'b'.repeat(5000) });
    const c1 = await server.nextConnection();
    await c1.next();
    await c1.next();
    c1.close(1009, 'message too big');
    const e = await rejects(big, 'MESSAGE_TOO_LARGE');
    assert.equal(e.closeCode, 1009);
    const c2 = await server.nextConnection();
    const m = await c2.next();
    assert.equal(m.payload.s, 'a');
    c2.success(m.id, 'small');
    assert.equal(await small, 'small');
  });
});
