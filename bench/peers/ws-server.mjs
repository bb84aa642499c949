// Peer 1: what a user would write with Node `ws` alone. Same protocol slice as
// Streamer for `health` and an in-process `delay` job (timers, no store).
//   node ws-server.mjs --port 9002 --secret S [--max-seconds 1800]
import { WebSocketServer } from 'ws';
import * as p from './protocol.mjs';

const opt = p.args({ port: '9002', host: '127.0.0.1', secret: 'bench-secret', 'max-seconds': '1800' });
const wss = new WebSocketServer({ host: opt.host, port: Number(opt.port), perMessageDeflate: false,
  maxPayload: 1024 * 1024 });

// Runs a delay job in this process: `steps` progress messages, then the result.
function runDelay(ws, id, { duration_ms, steps }) {
  const started = performance.now();
  let step = 0;
  const tick = () => {
    step += 1;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(p.progress(id, (100 * step) / steps, `step ${step}/${steps}`));
    if (step < steps) {
      setTimeout(tick, duration_ms / steps);
    } else {
      ws.send(p.result(id, { slept_ms: duration_ms, steps }, (performance.now() - started) / 1000,
        'delay'));
    }
  };
  setTimeout(tick, duration_ms / steps);
}

wss.on('connection', (ws, req) => {
  if (!p.authenticate(ws, req, opt.secret)) return;
  ws.on('message', (data) => {
    const started = performance.now();
    const r = p.parseRequest(data.toString());
    if (r.reply) return ws.send(r.reply);
    if (r.action === 'health') return ws.send(p.success(r.id, p.healthData(), started));
    if (r.action === 'delay') {
      const params = p.delayParams(r.payload);
      if (!params) return ws.send(p.error(r.id, 'VALIDATION_ERROR', 'Bad delay payload'));
      ws.send(p.queued(r.id, params.duration_ms / 1000));
      return runDelay(ws, r.id, params);
    }
    return ws.send(p.error(r.id, 'INVALID_ACTION', `Unknown action ${r.action}`));
  });
});

p.limitLifetime(opt['max-seconds'], async () => wss.close());
wss.on('listening', () => console.error(`ws peer listening on ${opt.host}:${opt.port}`));
