// Peer 2: what a user would write with Node `ws` + BullMQ on Redis for the async path.
// `delay` jobs are added to a BullMQ queue (the durable hand-off), run by a Worker in
// this process, and their progress and result go back over the WebSocket from the
// Worker's local events. Redis is started by bench/run.sh (persistence off).
//   node bullmq-server.mjs --port 9003 --redis-port 6391 --secret S [--concurrency 64]
import { Queue, Worker } from 'bullmq';
import { WebSocketServer } from 'ws';
import * as p from './protocol.mjs';

const opt = p.args({ port: '9003', host: '127.0.0.1', 'redis-port': '6391', secret: 'bench-secret',
  concurrency: '64', 'max-seconds': '1800' });
const connection = { host: '127.0.0.1', port: Number(opt['redis-port']), maxRetriesPerRequest: null };
const queueName = `bench-delay-${process.pid}`;
const queue = new Queue(queueName, { connection });
const sockets = new Map(); // jobId -> { ws, requestId, started }
let nextJob = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const worker = new Worker(queueName, async (job) => {
  const { duration_ms, steps } = job.data;
  for (let step = 1; step <= steps; step += 1) {
    if (duration_ms > 0) await sleep(duration_ms / steps);
    await job.updateProgress((100 * step) / steps);
  }
  return { slept_ms: duration_ms, steps };
}, { connection, concurrency: Number(opt.concurrency) });

worker.on('progress', (job, percent) => {
  const s = sockets.get(job.id);
  if (s && s.ws.readyState === s.ws.OPEN) {
    s.ws.send(p.progress(s.requestId, percent, `step ${Math.round((percent * job.data.steps) / 100)}/${job.data.steps}`));
  }
});
worker.on('completed', (job, value) => {
  const s = sockets.get(job.id);
  sockets.delete(job.id);
  if (s && s.ws.readyState === s.ws.OPEN) {
    s.ws.send(p.result(s.requestId, value, (performance.now() - s.started) / 1000, 'delay'));
  }
});
worker.on('failed', (job, err) => {
  const s = job && sockets.get(job.id);
  if (!s) return;
  sockets.delete(job.id);
  if (s.ws.readyState === s.ws.OPEN) s.ws.send(p.error(s.requestId, 'INTERNAL_ERROR', String(err), true));
});

const wss = new WebSocketServer({ host: opt.host, port: Number(opt.port), perMessageDeflate: false,
  maxPayload: 1024 * 1024 });
wss.on('connection', (ws, req) => {
  if (!p.authenticate(ws, req, opt.secret)) return;
  ws.on('message', async (data) => {
    const started = performance.now();
    const r = p.parseRequest(data.toString());
    if (r.reply) return ws.send(r.reply);
    if (r.action === 'health') return ws.send(p.success(r.id, p.healthData(), started));
    if (r.action !== 'delay') return ws.send(p.error(r.id, 'INVALID_ACTION', `Unknown action ${r.action}`));
    const params = p.delayParams(r.payload);
    if (!params) return ws.send(p.error(r.id, 'VALIDATION_ERROR', 'Bad delay payload'));
    const jobId = `j${++nextJob}`;
    sockets.set(jobId, { ws, requestId: r.id, started });
    try {
      await queue.add('delay', params, { jobId, removeOnComplete: true, removeOnFail: true });
      ws.send(p.queued(r.id, params.duration_ms / 1000));
    } catch (err) {
      sockets.delete(jobId);
      ws.send(p.error(r.id, 'INTERNAL_ERROR', String(err), true));
    }
  });
});

p.limitLifetime(opt['max-seconds'], async () => {
  wss.close();
  await worker.close(true);
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
});
wss.on('listening', () => console.error(`bullmq peer listening on ${opt.host}:${opt.port}`));
