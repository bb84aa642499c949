/**
 * StreamerWorker against the real `streamer` binary: a TypeScript worker and a Python
 * worker (`python -m streamer_client.worker`) serve actions that StreamerClient
 * submits; cancel reaches the handler's AbortSignal; the documented example runs.
 * Skipped, with the reason printed, when the binary is missing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateRequestId, StreamerClient, StreamerError, StreamerWorker, type Job, type Progress } from '../src/index.js';
import { binaryMissing, mintToken, mintWorkerToken, PKG_ROOT, RealServer, WORKER_FLAGS } from './real-server.js';

const skip = binaryMissing();
if (skip) {
  console.log(`# worker integration tests skipped: ${skip}`);
  it('worker integration tests against the real server', { skip }, () => {});
}

const REPO = resolve(PKG_ROOT, '../..');
const VENV_PYTHON = join(REPO, '.venv/bin/python');
const PYTHON = existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `client.request`, retried while the action is unknown (its worker has not registered yet). */
async function requestOnceServed<T>(client: StreamerClient, action: string, payload: unknown, opts: Parameters<StreamerClient['request']>[2] = {}): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await client.request<T>(action, payload, opts);
    } catch (e) {
      if (!(e instanceof StreamerError) || e.code !== 'INVALID_ACTION' || i > 200) throw e;
      await sleep(100);
    }
  }
}

function exited(p: ChildProcess): Promise<number | null> {
  return p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((r) => p.once('exit', (code) => r(code)));
}

describe('remote workers with the real server', { skip, timeout: 180_000 }, () => {
  let server: RealServer;
  let client: StreamerClient;

  before(async () => {
    server = await RealServer.start({ flags: WORKER_FLAGS });
    client = new StreamerClient({ endpoint: server.url, token: mintToken() });
  });

  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it('a TypeScript worker serves a TypeScript client: progress, result, schema violations', async () => {
    const worker = new StreamerWorker({ url: server.url, token: mintWorkerToken(['ts_scale']), handleSignals: false, progressIntervalMs: 0 });
    const seen: Job[] = [];
    worker.handle('ts_scale', { schema: { type: 'object', required: ['w'], properties: { w: { type: 'integer', minimum: 1 } } }, timeLimit: 20000 },
      async (job: Job<{ w: number }>) => {
        seen.push(job);
        job.reportProgress(40, 'scaling', { current_step: 'scale' });
        await sleep(300); // let the progress reach the client before the result
        return { scaled: job.payload.w * 2 };
      });
    const run = worker.run();
    const progress: Progress[] = [];
    const data = await requestOnceServed(client, 'ts_scale', { w: 21 }, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(data, { scaled: 42 });
    assert.equal(progress[0]?.progress, 40);
    assert.equal(progress[0]?.message, 'scaling');
    assert.equal(seen[0]!.identity.user_id, 'sdk-ts-user');
    assert.equal(seen[0]!.attempt, 1);
    await assert.rejects(client.request('ts_scale', { w: 0 }), (e: unknown) => e instanceof StreamerError && e.code === 'VALIDATION_ERROR' && e.details.field === 'w');
    assert.equal(seen.length, 1, 'the invalid payload never reached the worker');
    worker.close();
    await run;
  });

  it("a client's cancel aborts the handler's signal within 250 ms", async () => {
    const worker = new StreamerWorker({ url: server.url, token: mintWorkerToken(['ts_wait']), handleSignals: false });
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    let abortedAt = 0;
    worker.handle('ts_wait', { timeLimit: 60000 }, (_job, { signal }) => new Promise((_, reject) => {
      started();
      signal.addEventListener('abort', () => {
        abortedAt = Date.now();
        reject(signal.reason);
      });
    }));
    const run = worker.run();
    let rid = generateRequestId();
    let pending: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < 200; i++) {
      rid = generateRequestId();
      pending = client.request('ts_wait', {}, { id: rid });
      const first = await Promise.race([startedP.then(() => 'started'), pending.then(() => 'done', (e) => e)]);
      if (first === 'started') break;
      assert.ok(first instanceof StreamerError && first.code === 'INVALID_ACTION', String(first));
      await sleep(100);
    }
    const sent = Date.now();
    await client.cancel(rid);
    await assert.rejects(pending, (e: unknown) => e instanceof StreamerError && e.code === 'CANCELLED');
    for (let i = 0; i < 100 && abortedAt === 0; i++) await sleep(10);
    assert.ok(abortedAt > 0 && abortedAt - sent < 250, `the signal aborted ${abortedAt - sent} ms after the cancel`);
    assert.equal(worker.inFlight, 0);
    worker.close();
    await run;
  });

  it('a Python worker (python -m streamer_client.worker) serves a TypeScript client', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'streamer-pyworker-'));
    writeFileSync(join(dir, 'py_worker_mod.py'), [
      'import asyncio',
      'from streamer_client import StreamerWorker',
      'worker = StreamerWorker(progress_interval=0)',
      '@worker.handler("ts_py_upper", schema={"type": "object", "required": ["text"]})',
      'async def upper(job):',
      '    await job.report_progress(50, "upper-casing")',
      '    await asyncio.sleep(0.3)',
      '    return {"upper": job.payload["text"].upper(), "by": "python"}',
      '',
    ].join('\n'));
    const proc = spawn(PYTHON, ['-m', 'streamer_client.worker', 'py_worker_mod:worker', '--url', server.url, '--log-level', 'WARNING'], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: `${join(REPO, 'sdk/python/src')}:${dir}`, STREAMER_WORKER_TOKEN: mintWorkerToken(['ts_py_upper']) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    t.after(() => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const progress: Progress[] = [];
    const data = await requestOnceServed(client, 'ts_py_upper', { text: 'abc' }, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(data, { upper: 'ABC', by: 'python' });
    assert.equal(progress[0]?.progress, 50);
    proc.kill('SIGTERM');
    assert.equal(await exited(proc), 0, stderr);
  });

  for (const doc of ['docs/workers.md', 'README.md']) {
    it(`the TypeScript worker of ${doc} runs as written`, async (t) => {
      const text = readFileSync(join(REPO, doc), 'utf8');
      const code = /<!-- worker-example:typescript -->\s*```typescript\n([\s\S]*?)```/.exec(text)?.[1];
      assert.ok(code, `${doc} has a typescript worker example`);
      assert.ok(code.trim().split('\n').length < 20, 'under 20 lines');
      const dir = mkdtempSync(join(tmpdir(), 'streamer-docs-worker-'));
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(PKG_ROOT, join(dir, 'node_modules', 'streamer-client'));
      writeFileSync(join(dir, 'worker.mjs'), code.replace("'ws://localhost:8080/production'", JSON.stringify(server.url)));
      const proc = spawn(process.execPath, [join(dir, 'worker.mjs')], {
        env: { ...process.env, STREAMER_WORKER_TOKEN: mintWorkerToken(['reverse_text']) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      proc.stderr!.on('data', (d) => (stderr += d));
      t.after(() => {
        proc.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      });
      const data = await requestOnceServed(client, 'reverse_text', { text: 'stressed' });
      assert.deepEqual(data, { reversed: 'desserts' }, stderr);
      proc.kill('SIGTERM');
      assert.equal(await exited(proc), 0, stderr);
    });
  }
});
