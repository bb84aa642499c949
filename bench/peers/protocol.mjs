// The slice of the Streamer wire protocol (docs/protocol.md) that the peer servers
// implement for the benchmarks: HS256 JWT check on connect, the seed envelopes, and
// `health` / `delay` requests.
import crypto from 'node:crypto';

// Returns the claims of a valid HS256 token, or null (bad signature, alg or expiry).
export function verifyJwt(token, secret) {
  const parts = (token || '').split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts;
  const expected = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  if (expected.length !== s.length ||
      !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(s))) return null;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    if (header.alg !== 'HS256' || !claims.sub || !claims.tenant_id) return null;
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return null;
    return claims;
  } catch {
    return null;
  }
}

// Token from ?Authorization= or the `Authorization: Bearer` header of an upgrade request.
export function tokenOf(req) {
  const q = new URL(req.url, 'http://x').searchParams.get('Authorization');
  if (q) return q;
  const h = req.headers.authorization || '';
  return h.startsWith('Bearer ') ? h.slice(7) : '';
}

export const version = '1.2.0';

export function success(requestId, data, started) {
  return JSON.stringify({ type: 'response', response: { request_id: requestId, status: 'success',
    data, metadata: { processing_time: (performance.now() - started) / 1000 } } });
}

export function queued(requestId, estimatedSeconds) {
  return JSON.stringify({ type: 'response', response: { request_id: requestId, status: 'queued',
    message: 'Request queued for processing', estimated_duration: estimatedSeconds } });
}

export function progress(requestId, percent, message) {
  return JSON.stringify({ type: 'progress', progress: { request_id: requestId, progress: percent,
    message, metadata: {}, timestamp: new Date().toISOString() } });
}

export function result(requestId, data, totalSeconds, handler) {
  return JSON.stringify({ type: 'result', result: { request_id: requestId, success: true, data,
    metadata: { total_processing_time: totalSeconds, handler, attempts: 1 } } });
}

export function error(requestId, code, message, retryable = false, details = {}) {
  return JSON.stringify({ type: 'error', error: { request_id: requestId, code, message,
    details: { ...details, retryable } } });
}

export function healthData() {
  return { status: 'healthy', timestamp: new Date().toISOString(), version };
}

// Parses and checks a request; returns {id, action, payload} or an error message string.
export function parseRequest(text) {
  let req;
  try {
    req = JSON.parse(text);
  } catch {
    return { reply: error(null, 'VALIDATION_ERROR', 'Message is not JSON') };
  }
  const id = typeof req.id === 'number' ? String(req.id) : req.id;
  if (typeof id !== 'string' || !id) return { reply: error(null, 'VALIDATION_ERROR', 'Missing id') };
  if (typeof req.action !== 'string') {
    return { reply: error(id, 'VALIDATION_ERROR', 'Missing action') };
  }
  return { id, action: req.action, payload: req.payload || {} };
}

// Validated {duration_ms, steps} of a delay payload, or null.
export function delayParams(payload) {
  const d = payload.duration_ms ?? 0;
  const k = payload.steps ?? 1;
  if (!Number.isInteger(d) || d < 0 || d > 600000 || !Number.isInteger(k) || k < 1 || k > 1000) {
    return null;
  }
  return { duration_ms: d, steps: k };
}

// Parses --key value pairs.
export function args(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

// Authenticates a new connection; closes it with 4401 and returns false when refused.
export function authenticate(ws, req, secret) {
  if (verifyJwt(tokenOf(req), secret)) return true;
  ws.send(error(null, 'UNAUTHORIZED', 'Invalid token', false, { reason: 'bad_signature' }));
  ws.close(4401, 'unauthorized');
  return false;
}

// Stops the process after maxSeconds whatever happens (benchmarks stop by themselves).
export function limitLifetime(maxSeconds, cleanup = async () => {}) {
  const stop = async () => {
    try { await cleanup(); } finally { process.exit(0); }
  };
  setTimeout(stop, Number(maxSeconds) * 1000).unref();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
