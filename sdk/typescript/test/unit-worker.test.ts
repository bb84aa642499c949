/**
 * StreamerWorker against a scripted fake of the worker endpoint: registration,
 * outcomes, AbortSignal on cancel, coalesced progress, reconnect, token refresh, drain.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { JobError, RegistrationError, StreamerError, StreamerWorker, workerUrl, type Job, type StreamerWorkerOptions } from '../src/index.js';
import { FakeServer, sleep, type FakeConn, type Json } from './fake-server.js';

async function setup(t: TestContext, extra: Partial<StreamerWorkerOptions> = {}) {
  const server = await FakeServer.start();
  const worker = new StreamerWorker({
    url: server.url,
    token: 'wtok',
    handleSignals: false,
    reconnect: { baseDelayMs: 10, maxDelayMs: 50, jitter: 0 },
    progressIntervalMs: 0,
    ...extra,
  });
  t.after(async () => {
    worker.close({ abandon: true });
    await server.stop();
  });
  return { server, worker };
}

/** Accepts the next connection's registration; returns the connection and the register frame. */
async function registered(server: FakeServer, heartbeatMs = 5000): Promise<{ conn: FakeConn; register: Json }> {
  const conn = await server.nextConnection();
  const register = await conn.next((m) => m.type === 'register');
  conn.send({ type: 'registered', actions: register.actions.map((a: Json) => a.name), lease_ttl_ms: 15000, heartbeat_ms: heartbeatMs });
  return { conn, register };
}

function pushJob(conn: FakeConn, jobId: string, payload: Json = {}, extra: Json = {}): void {
  conn.send({
    type: 'job', job_id: jobId, fence: 1, action: 'resize', request_id: `req-${jobId}`, payload,
    identity: { user_id: 'u1', tenant_id: 't1', permissions: ['write'] }, attempt: 1, time_limit_ms: 60000, trace_id: 'tr', ...extra,
  });
}

const ofType = (type: string) => (m: Json) => m.type === type;

describe('StreamerWorker', () => {
  it('workerUrl appends /workers to a stage URL', () => {
    assert.equal(workerUrl('ws://h:1/production'), 'ws://h:1/production/workers');
    assert.equal(workerUrl('ws://h:1/production/'), 'ws://h:1/production/workers');
    assert.equal(workerUrl('wss://h/production/workers'), 'wss://h/production/workers');
  });

  it('checks specs when declared', () => {
    const w = new StreamerWorker({ url: 'ws://x/p', token: 't' });
    assert.throws(() => w.handle('a', { permission: 'root' as 'read' }, async () => ({})), RangeError);
    assert.throws(() => w.handle('a', { maxAttempts: 0 }, async () => ({})), RangeError);
    w.handle('a', {}, async () => ({}));
    assert.throws(() => w.handle('a', {}, async () => ({})), /already/);
  });

  it('registers each action on its own connection, with its spec and token', async (t) => {
    const { server, worker } = await setup(t, { concurrency: 2 });
    const schema = { type: 'object', required: ['urls'] };
    worker.handle('resize', { schema, estimatedDuration: 5000, timeLimit: 9000, maxAttempts: 4, concurrency: 3 }, async () => ({}));
    worker.handle('other', {}, async () => ({}));
    const run = worker.run();
    const a = await registered(server);
    const b = await registered(server);
    const byName = Object.fromEntries([a, b].map((x) => [x.register.actions[0].name, x]));
    assert.equal(byName.resize!.conn.path, '/production/workers');
    assert.equal(byName.resize!.conn.token, 'wtok');
    assert.deepEqual(byName.resize!.register, {
      type: 'register', concurrency: 3,
      actions: [{ name: 'resize', estimated_duration: 5000, permission: 'write', time_limit: 9000, max_attempts: 4, schema }],
    });
    assert.equal(byName.other!.register.concurrency, 2);
    worker.close();
    await run;
  });

  it('runs a job: progress and result carry the fence', async (t) => {
    const { server, worker } = await setup(t);
    let seen: Job | undefined;
    worker.handle('resize', {}, async (job: Job<{ urls: string[] }>) => {
      seen = job;
      job.reportProgress(50, 'half', { done: 1 });
      return { n: job.payload.urls.length };
    });
    const run = worker.run();
    const { conn } = await registered(server);
    pushJob(conn, 'j1', { urls: ['a', 'b'] }, { fence: 7, attempt: 2 });
    assert.deepEqual(await conn.next(ofType('progress')), { type: 'progress', job_id: 'j1', fence: 7, percent: 50, message: 'half', metadata: { done: 1 } });
    assert.deepEqual(await conn.next(ofType('complete')), { type: 'complete', job_id: 'j1', fence: 7, data: { n: 2 } });
    assert.equal(seen!.requestId, 'req-j1');
    assert.equal(seen!.attempt, 2);
    assert.deepEqual(seen!.identity, { user_id: 'u1', tenant_id: 't1', permissions: ['write'] });
    conn.send({ type: 'ack', job_id: 'j1' });
    worker.close();
    await run;
  });

  it('maps JobError, other exceptions and bad return values to fail frames', async (t) => {
    const { server, worker } = await setup(t, { concurrency: 3 });
    worker.handle('resize', {}, async (job: Job<{ kind: string }>) => {
      if (job.payload.kind === 'job_error') throw new JobError('VALIDATION_ERROR', 'no such image', { field: 'urls.0' });
      if (job.payload.kind === 'bug') throw new TypeError('boom');
      return 'a string' as unknown as object;
    });
    const run = worker.run();
    const { conn } = await registered(server);
    for (const kind of ['job_error', 'bug', 'bad_return']) pushJob(conn, kind, { kind });
    const fails: Record<string, Json> = {};
    for (let i = 0; i < 3; i++) {
      const f = await conn.next(ofType('fail'));
      fails[f.job_id] = f.error;
    }
    assert.deepEqual(fails.job_error, { code: 'VALIDATION_ERROR', message: 'no such image', details: { field: 'urls.0' }, retryable: false });
    assert.equal(fails.bug!.code, 'INTERNAL_ERROR');
    assert.equal(fails.bug!.retryable, true);
    assert.match(fails.bug!.message, /TypeError: boom/);
    assert.equal(fails.bad_return!.retryable, false);
    worker.close({ abandon: true });
    await run;
  });

  it('a cancel aborts the signal at once and reports nothing more', async (t) => {
    const { server, worker } = await setup(t);
    let abortedAt = 0;
    let reason: unknown;
    worker.handle('resize', {}, (_job, { signal }) => new Promise((_, reject) => {
      signal.addEventListener('abort', () => {
        abortedAt = Date.now();
        reason = signal.reason;
        reject(new Error('aborted'));
      });
    }));
    const run = worker.run();
    const { conn } = await registered(server);
    pushJob(conn, 'j1');
    await sleep(50);
    assert.equal(worker.inFlight, 1);
    const sentAt = Date.now();
    conn.send({ type: 'cancel', job_id: 'j1', fence: 1, reason: 'cancelled' });
    await sleep(100);
    assert.equal(reason, 'cancelled');
    assert.ok(abortedAt > 0 && abortedAt - sentAt < 250, `aborted after ${abortedAt - sentAt} ms`);
    assert.equal(worker.inFlight, 0);
    assert.equal(conn.received.filter((m) => m.type === 'fail' || m.type === 'complete').length, 0);
    worker.close();
    await run;
  });

  it('coalesces progress; the latest value wins', async (t) => {
    const { server, worker } = await setup(t, { progressIntervalMs: 200 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    worker.handle('resize', {}, async (job) => {
      for (let i = 1; i <= 100; i++) job.reportProgress(i, `step ${i}`);
      await released;
      return {};
    });
    const run = worker.run();
    const { conn } = await registered(server);
    pushJob(conn, 'j1');
    assert.equal((await conn.next(ofType('progress'))).percent, 1);
    const last = await conn.next(ofType('progress'));
    assert.equal(last.percent, 100);
    assert.equal(last.message, 'step 100');
    release();
    await conn.next(ofType('complete'));
    assert.equal(conn.received.filter((m) => m.type === 'progress').length, 2);
    worker.close({ abandon: true });
    await run;
  });

  it('sends heartbeats at the server-given interval', async (t) => {
    const { server, worker } = await setup(t);
    worker.handle('resize', {}, async () => ({}));
    const run = worker.run();
    const { conn } = await registered(server, 100);
    await sleep(550);
    const n = conn.received.filter((m) => m.type === 'heartbeat').length;
    assert.ok(n >= 3 && n <= 7, `${n} heartbeats`);
    worker.close();
    await run;
  });

  it('reconnects, registers again, and delivers the outcome of a job that outlived its connection', async (t) => {
    const { server, worker } = await setup(t);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    worker.handle('resize', {}, async () => {
      await released;
      return { ok: true };
    });
    const run = worker.run();
    const first = await registered(server);
    pushJob(first.conn, 'j1', {}, { fence: 3 });
    await sleep(30);
    first.conn.close(1012, 'restart');
    const second = await registered(server);
    assert.deepEqual(second.register, first.register);
    release();
    assert.deepEqual(await second.conn.next(ofType('complete')), { type: 'complete', job_id: 'j1', fence: 3, data: { ok: true } });
    second.conn.send({ type: 'ack', job_id: 'j1' });
    worker.close();
    await run;
  });

  it('sends unacknowledged outcomes again after a RATE_LIMITED error', async (t) => {
    const { server, worker } = await setup(t);
    worker.handle('resize', {}, async () => ({ v: 1 }));
    const run = worker.run();
    const { conn } = await registered(server);
    pushJob(conn, 'j1');
    await conn.next(ofType('complete'));
    conn.error(null, 'RATE_LIMITED', 'slow down', { retry_after_ms: 30, retryable: true });
    assert.equal((await conn.next(ofType('complete'), 2000)).job_id, 'j1');
    conn.send({ type: 'ack', job_id: 'j1' });
    worker.close();
    await run;
  });

  it('a stale answer aborts the handler and nothing more is sent', async (t) => {
    const { server, worker } = await setup(t);
    let aborted: unknown;
    worker.handle('resize', {}, (job, { signal }) => {
      job.reportProgress(10);
      return new Promise((_, reject) => signal.addEventListener('abort', () => {
        aborted = signal.reason;
        reject(new Error('x'));
      }));
    });
    const run = worker.run();
    const { conn } = await registered(server);
    pushJob(conn, 'j1', {}, { fence: 2 });
    await conn.next(ofType('progress'));
    conn.send({ type: 'stale', job_id: 'j1', fence: 2 });
    await sleep(100);
    assert.equal(aborted, 'stale');
    assert.equal(conn.received.filter((m) => m.type === 'fail' || m.type === 'complete').length, 0);
    assert.equal(worker.inFlight, 0);
    worker.close();
    await run;
  });

  it('a refused registration rejects run() with RegistrationError', async (t) => {
    const { server, worker } = await setup(t);
    worker.handle('resize', {}, async () => ({}));
    const run = worker.run();
    const conn = await server.nextConnection();
    await conn.next(ofType('register'));
    conn.error(null, 'VALIDATION_ERROR', 'bad schema', { field: 'schema.type', expected: 'a type', received: 'x' });
    await assert.rejects(run, (e: unknown) => e instanceof RegistrationError && e.code === 'VALIDATION_ERROR' && e.details.field === 'schema.type');
  });

  it('a rejected token is fatal without getToken and refreshed with it', async (t) => {
    const { server, worker } = await setup(t);
    worker.handle('resize', {}, async () => ({}));
    const run = worker.run();
    (await server.nextConnection()).close(4401, 'invalid_token');
    await assert.rejects(run, (e: unknown) => e instanceof StreamerError && e.code === 'UNAUTHORIZED' && e.closeCode === 4401);

    const tokens = ['bad', 'good'];
    const w2 = new StreamerWorker({ url: server.url, getToken: () => tokens.shift()!, handleSignals: false, reconnect: { baseDelayMs: 10 } });
    w2.handle('resize', {}, async () => ({}));
    const run2 = w2.run();
    const c1 = await server.nextConnection();
    assert.equal(c1.token, 'bad');
    c1.close(4401, 'invalid_token');
    const { conn } = await registered(server);
    assert.equal(conn.token, 'good');
    w2.close();
    await run2;
  });

  it('graceful close finishes jobs in flight and refuses new ones as retryable', async (t) => {
    const { server, worker } = await setup(t, { shutdownGraceMs: 5000 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    worker.handle('resize', {}, async (job) => {
      await released;
      return { done: job.jobId };
    });
    let finished = false;
    const run = worker.run().then(() => (finished = true));
    const { conn } = await registered(server);
    pushJob(conn, 'j1');
    await sleep(30);
    worker.close();
    pushJob(conn, 'j2');
    const refused = await conn.next(ofType('fail'));
    assert.equal(refused.job_id, 'j2');
    assert.equal(refused.error.retryable, true);
    assert.deepEqual(refused.error.details, { reason: 'worker_shutdown' });
    conn.send({ type: 'ack', job_id: 'j2' });
    assert.equal(finished, false);
    release();
    assert.deepEqual((await conn.next(ofType('complete'))).data, { done: 'j1' });
    conn.send({ type: 'ack', job_id: 'j1' });
    await run;
    await conn.closed;
  });

  it('when the grace period ends, jobs are abandoned unreported', async (t) => {
    const { server, worker } = await setup(t, { shutdownGraceMs: 150 });
    let aborted: unknown;
    worker.handle('resize', {}, (_job, { signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => {
      aborted = signal.reason;
      reject(new Error('x'));
    })));
    const run = worker.run();
    const { conn } = await registered(server);
    pushJob(conn, 'j1');
    await sleep(30);
    worker.close();
    await run;
    assert.equal(aborted, 'shutdown');
    await sleep(30);
    assert.equal(conn.received.filter((m) => m.type === 'fail' || m.type === 'complete').length, 0);
  });
});
