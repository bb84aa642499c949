// The BullMQ Node worker of the remote-worker comparison: a no-op processor on queue
// --queue with --concurrency jobs at a time, on the Redis at --redis-port. Stops on
// SIGTERM (or after --max-seconds).
//   node bullmq-noop-worker.mjs --queue bench-noop --redis-port 19108 --concurrency 64
import { Worker } from 'bullmq';
import * as p from './protocol.mjs';

const opt = p.args({ queue: 'bench-noop', 'redis-port': '6391', concurrency: '64', 'max-seconds': '600' });
const connection = { host: '127.0.0.1', port: Number(opt['redis-port']), maxRetriesPerRequest: null };
const worker = new Worker(opt.queue, async () => ({ ok: true }),
  { connection, concurrency: Number(opt.concurrency) });
const stop = async () => { await worker.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, Number(opt['max-seconds']) * 1000).unref();
