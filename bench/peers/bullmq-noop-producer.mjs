// The producer side of the BullMQ no-op comparison, end to end as a BullMQ user waits
// for a result: adds --jobs jobs to --queue keeping --in-flight of them outstanding,
// and counts a job done when QueueEvents reports it completed (the same submit ->
// result path the Streamer clients time). A warm-up of --warmup jobs runs first.
// Prints one JSON line: jobs, seconds, jobs_per_s, p50_ms, p99_ms; with --out, also appends
// it to that file as a bench/report.py line (label --label, per_s, p50_us, p99_us).
// Bounded by --timeout.
//   node bullmq-noop-producer.mjs --queue bench-noop --redis-port 19108 --jobs 2000 --in-flight 256
import { appendFileSync } from 'node:fs';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import * as p from './protocol.mjs';

const opt = p.args({ queue: 'bench-noop', 'redis-port': '6391', jobs: '2000', 'in-flight': '256',
  warmup: '20', timeout: '120', out: '', label: 'bullmq-worker:noop' });
const connection = { host: '127.0.0.1', port: Number(opt['redis-port']), maxRetriesPerRequest: null };
const queue = new Queue(opt.queue, { connection });
// From the events stream's last entry now: a first XREAD from '$' can be issued after the
// first jobs have already completed, and their events would be lost.
const redis = new Redis(connection);
const [last] = await redis.xrevrange(`bull:${opt.queue}:events`, '+', '-', 'COUNT', 1);
redis.disconnect();
const events = new QueueEvents(opt.queue, { connection, lastEventId: last ? last[0] : '0-0' });
const pending = new Map(); // jobId -> resolve
events.on('completed', ({ jobId }) => { const done = pending.get(jobId); if (done) { pending.delete(jobId); done(); } });
events.on('failed', ({ jobId, failedReason }) => { console.error(`job ${jobId} failed: ${failedReason}`); process.exit(1); });
await events.waitUntilReady();
setTimeout(() => { console.error('timed out'); process.exit(1); }, Number(opt.timeout) * 1000).unref();

let next = 0;
// run(count): count jobs, at most --in-flight outstanding; returns each one's latency (s).
async function run(count) {
  const latencies = [];
  let issued = 0;
  const lane = async () => {
    while (issued < count) {
      issued += 1;
      const jobId = `n${process.pid}-${++next}`;
      const started = performance.now();
      const done = new Promise((resolve) => pending.set(jobId, resolve));
      await queue.add('noop', {}, { jobId, removeOnComplete: true, removeOnFail: true });
      await done;
      latencies.push((performance.now() - started) / 1000);
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, Number(opt['in-flight'])) }, lane));
  return latencies;
}

await run(Number(opt.warmup));
const t0 = performance.now();
const lat = await run(Number(opt.jobs));
const seconds = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const pct = (q) => Math.round(lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] * 100000) / 100;
const result = { jobs: lat.length, seconds: Math.round(seconds * 1000) / 1000,
  jobs_per_s: Math.round((10 * lat.length) / seconds) / 10, p50_ms: pct(0.5), p99_ms: pct(0.99) };
console.log(JSON.stringify(result));
if (opt.out) {
  appendFileSync(opt.out, `${JSON.stringify({ label: opt.label, per_s: result.jobs_per_s,
    p50_us: result.p50_ms * 1000, p99_us: result.p99_ms * 1000, jobs: result.jobs, seconds: result.seconds })}\n`);
}
await Promise.all([queue.close(), events.close()]);
process.exit(0);
