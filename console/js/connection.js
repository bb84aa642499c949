// One WebSocket connection to the server, speaking the Streamer protocol
// (docs/protocol.md). request() sends an action and settles with its answer;
// everything else the server pushes (progress, result, error of async requests,
// stats) goes to the listeners registered with on().

/** A random request id; crypto.getRandomValues works on plain-http origins too. */
export function newRequestId(prefix = 'c') {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + '-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An error answer of the server, as an Error: code, message and details kept. */
export class ServerError extends Error {
  constructor(error) {
    super(error.message || error.code);
    this.code = error.code;
    this.details = error.details || {};
  }
}

export class Connection {
  /** url: ws(s)://host/stage?Authorization=... (never logged, never shown). */
  constructor(url) {
    this.url = url;
    this.pending = new Map(); // request id -> {resolve, reject}
    this.listeners = new Map(); // message type -> Set of functions
    this.ws = null;
    this.closed = false;
  }

  /**
   * Opens the socket and proves the token with a `health` call. Resolves once the
   * server answered it; rejects with a ServerError when the server refuses the
   * connection (it sends one error with request_id null, then closes), or with an
   * Error when the socket cannot be opened.
   */
  open() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err) => { if (!settled) { settled = true; reject(err); } };
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onmessage = (ev) => this._dispatch(ev.data, fail);
      ws.onclose = (ev) => {
        this.closed = true;
        for (const p of this.pending.values()) p.reject(new Error('connection closed'));
        this.pending.clear();
        fail(this.refusal || new Error(`connection closed (code ${ev.code})`));
        this._emit('close', { code: ev.code, reason: ev.reason, refusal: this.refusal });
      };
      ws.onerror = () => fail(new Error('cannot reach the server'));
      ws.onopen = () => {
        this.request('health', {}).then(() => { settled = true; resolve(this); }, fail);
      };
    });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close(1000);
  }

  /** Registers fn(body) for pushed messages of `type` (progress, result, error, stats, close). */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  /**
   * Sends {id, action, payload}; resolves with the `response` body (status
   * `success` or `queued`), rejects with a ServerError when the answer to this id is
   * an error. Later messages of an async request go to the listeners.
   */
  request(action, payload = {}, id = newRequestId()) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, action, payload }));
    });
  }

  _dispatch(text, failOpen) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    const body = msg[msg.type];
    if (!body) return;
    const id = body.request_id;
    if (msg.type === 'error' && id === null) {
      // A refused connection, or a message the server could not read.
      this.refusal = new ServerError(body);
      failOpen(this.refusal);
      this._emit('error', body);
      return;
    }
    if ((msg.type === 'response' || msg.type === 'error') && this.pending.has(id)) {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (msg.type === 'response') p.resolve(body);
      else p.reject(new ServerError(body));
      return;
    }
    this._emit(msg.type, body);
  }

  _emit(type, body) {
    const set = this.listeners.get(type);
    if (set) for (const fn of [...set]) fn(body);
  }
}
