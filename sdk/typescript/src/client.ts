import { resolveReconnect, type ReconnectOptions } from './backoff.js';
import { Connection, TokenSource, type ConnectionState, type StateChange } from './connection.js';
import { Emitter } from './emitter.js';
import { CLIENT_SOURCE, CloseCodes, StreamerError } from './errors.js';
import { generateRequestId } from './ids.js';
import {
  utf8Length,
  type CancelResult,
  type ErrorBody,
  type Progress,
  type RequestMessage,
  type RequestSnapshot,
  type ServerMessage,
} from './protocol.js';
import type { WebSocketConstructor } from './websocket.js';

/** Options of {@link StreamerClient}. */
export interface StreamerClientOptions {
  /** `ws(s)://HOST:PORT/{stage}`, e.g. `wss://streamer.example.com/production`. */
  endpoint: string;
  /** A JWT. A rejected token (close 4401) is final unless `getToken` is given. */
  token?: string;
  /** Returns a JWT; called to connect, and again to refresh after a 4401 close (e.g. `token_expired`). */
  getToken?: () => string | Promise<string>;
  /** Called with every `progress` message of every request. */
  onProgress?: (progress: Progress) => void;
  /** Called on every connection state change. */
  onStateChange?: (change: StateChange) => void;
  /** Reconnection with exponential backoff and jitter (default 5 attempts, up to 1 s · 2ⁿ). */
  reconnect?: ReconnectOptions;
  /** Requests on the server at once, sync or async; the rest wait client-side (default 10). */
  maxInFlight?: number;
  /** Largest request message in UTF-8 bytes; bigger ones fail with MESSAGE_TOO_LARGE before sending (default 1 MiB). */
  maxMessageBytes?: number;
  /** Default per-request timeout in ms, counted from `request()`; 0 or absent means none. */
  requestTimeoutMs?: number;
  /** How often one request is retried after RATE_LIMITED before the error is returned (default 5). */
  maxRateLimitRetries?: number;
  /** WebSocket implementation; default: `ws` on Node, the global `WebSocket` in browsers. */
  WebSocket?: WebSocketConstructor;
}

/** Told to `onQueued` when the server accepts an async request. */
export interface QueuedInfo {
  requestId: string;
  /** Seconds, as estimated by the handler. */
  estimatedDuration?: number;
  message?: string;
}

/** Options of one {@link StreamerClient.request}. */
export interface RequestOptions {
  /** Called with this request's progress messages (monotonic, duplicates after a reconnect dropped). */
  onProgress?: (progress: Progress) => void;
  /** Called once the server has queued an async request (not called for sync ones). */
  onQueued?: (info: QueuedInfo) => void;
  /** Fails with TIMEOUT after this many ms and cancels the job on the server. Overrides `requestTimeoutMs`. */
  timeoutMs?: number;
  /** Aborting fails the request with CANCELLED and cancels the job on the server. */
  signal?: AbortSignal;
  /** Request metadata, e.g. `{trace_id: '…'}`. */
  metadata?: Record<string, unknown>;
  /** Your own request id (default `${Date.now()}-${random}`). Async ids are idempotent server-side. */
  id?: string;
}

/** Events of {@link StreamerClient}; listen with `client.on(name, listener)`. */
export interface ClientEvents extends Record<string, unknown> {
  /** Every state change. */
  state: StateChange;
  /** Entering `connecting`: first connect, or reconnecting after a close (`code`, `reason`). */
  connecting: StateChange;
  connected: StateChange;
  /** Entering `disconnected`: `close()`, a fatal close code, or reconnection given up (`error`). */
  disconnected: StateChange;
  /** Every progress message. */
  progress: Progress;
  /** Every server message, parsed (for debugging and tooling). */
  message: ServerMessage;
}

type Phase =
  | 'waiting' // in the client-side queue, never sent
  | 'sent' // sent, no answer yet: re-sent with the same id after a reconnect
  | 'queued' // accepted as async: resumed with `subscribe` after a reconnect
  | 'retry_wait'; // RATE_LIMITED, waiting for retry_after_ms

interface Pending {
  id: string;
  /** 'request' sends the request; 'resume' only subscribes to an existing id. */
  kind: 'request' | 'resume';
  text: string;
  bytes: number;
  phase: Phase;
  resolve: (data: unknown) => void;
  reject: (err: StreamerError) => void;
  onProgress: ((p: Progress) => void) | undefined;
  onQueued: ((info: QueuedInfo) => void) | undefined;
  lastProgress: Progress | undefined;
  rateLimitRetries: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  detach: (() => void) | undefined;
}

/** A `subscribe` or `cancel` the client sends on its own or on the caller's behalf. */
interface Control {
  id: string;
  action: 'subscribe' | 'cancel';
  target: string;
  /** Set for calls made by the caller (`cancel()`); re-sent after a reconnect until answered. */
  resolve?: (data: unknown) => void;
  reject?: (err: StreamerError) => void;
  attempts: number;
}

const CONTROL_RATE_LIMIT_RETRIES = 5;

/** Defaults of {@link StreamerClientOptions}, the same in every Streamer SDK (docs/asyncapi.yaml, `x-client.defaults`). */
export const CLIENT_DEFAULTS = {
  maxInFlight: 10,
  maxMessageBytes: 1_048_576,
  maxRateLimitRetries: 5,
} as const;

/**
 * Client for a Streamer server.
 *
 * ```ts
 * const client = new StreamerClient({ endpoint: 'ws://localhost:8080/production', token });
 * const health = await client.request('health', {});
 * const report = await client.request('generate_report', {...}, { onProgress: (p) => console.log(p.progress) });
 * await client.close();
 * ```
 *
 * It connects on first use and keeps one WebSocket. Sync requests resolve with the
 * response's `data`, async ones with their result's `data`. If the connection drops,
 * the client reconnects with backoff; requests the server had queued are resumed with
 * `subscribe` (their promises and progress carry on), requests not yet answered are
 * re-sent with the same id. Failures reject with {@link StreamerError}.
 */
export class StreamerClient extends Emitter<ClientEvents> {
  private readonly conn: Connection;
  private readonly pending = new Map<string, Pending>();
  private readonly waiting: Pending[] = [];
  private readonly controls = new Map<string, Control>();
  /** Requests given up locally while unanswered: cancel them if the server queues them. */
  private readonly abandoned = new Set<string>();
  /** Ids to cancel once connected (given up while the connection was down). */
  private readonly cancelLater = new Set<string>();
  private readonly maxInFlight: number;
  private readonly maxMessageBytes: number;
  private readonly maxRateLimitRetries: number;

  constructor(private readonly options: StreamerClientOptions) {
    super();
    this.maxInFlight = Math.max(1, options.maxInFlight ?? CLIENT_DEFAULTS.maxInFlight);
    this.maxMessageBytes = options.maxMessageBytes ?? CLIENT_DEFAULTS.maxMessageBytes;
    this.maxRateLimitRetries = options.maxRateLimitRetries ?? CLIENT_DEFAULTS.maxRateLimitRetries;
    this.conn = new Connection(
      {
        endpoint: options.endpoint,
        tokens: new TokenSource(options.token, options.getToken),
        reconnect: resolveReconnect(options.reconnect),
        WebSocket: options.WebSocket,
      },
      {
        onOpen: () => this.handleOpen(),
        onMessage: (msg) => this.handleMessage(msg),
        onSocketClose: (code) => this.handleSocketClose(code),
        onStateChange: (change) => this.handleStateChange(change),
        onFail: (error) => this.failAll(error),
      },
    );
  }

  /** Current connection state. */
  get state(): ConnectionState {
    return this.conn.state;
  }

  /** Requests sent and not finished (sync awaiting an answer, async queued or running). */
  get inFlight(): number {
    return this.pending.size - this.waiting.length;
  }

  /** Requests waiting client-side for a free slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Opens the connection now instead of on first use. */
  connect(): void {
    this.conn.connect();
  }

  /**
   * Sends `action` with `payload` and resolves with the response's `data` (sync
   * handlers) or the result's `data` (async handlers), however many reconnects it
   * takes. Rejects with {@link StreamerError}.
   */
  request<T = unknown>(action: string, payload: unknown = {}, opts: RequestOptions = {}): Promise<T> {
    const id = opts.id ?? generateRequestId();
    const message: RequestMessage = { id, action, payload: payload ?? {} };
    if (opts.metadata) message.metadata = opts.metadata;
    return this.track<T>(id, 'request', message, opts);
  }

  /**
   * Follows an async request by id (e.g. one started by an earlier process with the
   * same user): resolves with its result's `data`, or rejects with its error
   * (`NOT_FOUND` for an unknown id). Survives reconnects like `request`. A timeout or
   * abort only stops following; use {@link StreamerClient.cancel} to stop the job.
   */
  subscribe<T = unknown>(
    requestId: string,
    opts: Pick<RequestOptions, 'onProgress' | 'timeoutMs' | 'signal'> = {},
  ): Promise<T> {
    return this.track<T>(requestId, 'resume', undefined, opts);
  }

  /** The server's snapshot of an async request (`status`, latest `progress`, …). */
  async status(requestId: string): Promise<RequestSnapshot> {
    return (await this.control('subscribe', requestId)) as RequestSnapshot;
  }

  /**
   * Cancels an async request by id. A pending `request()` for it then rejects with
   * CANCELLED. Resolves with the server's answer (`cancelled`, `cancelling`, or the
   * final status of a finished request).
   */
  async cancel(requestId: string): Promise<CancelResult> {
    const local = this.pending.get(requestId);
    if (local && local.phase === 'waiting') {
      this.finish(local, cancelledError(requestId, 'Cancelled before it was sent'));
      return { request_id: requestId, status: 'cancelled' };
    }
    return (await this.control('cancel', requestId)) as CancelResult;
  }

  /**
   * Closes the connection and rejects everything pending with CLIENT_CLOSED. Jobs
   * already queued on the server keep running (follow them later with `subscribe`).
   * The client may be used again: the next request reconnects.
   */
  async close(): Promise<void> {
    const error = new StreamerError({ code: 'CLIENT_CLOSED', message: 'Client closed' });
    const closing = this.conn.close(CloseCodes.NORMAL, 'client closed');
    this.failAll(error);
    await closing;
  }

  // ---------------------------------------------------------------- internals

  private track<T>(
    id: string,
    kind: Pending['kind'],
    message: RequestMessage | undefined,
    opts: RequestOptions,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.has(id)) {
        reject(new StreamerError({ code: 'VALIDATION_ERROR', message: `Request id ${id} is already pending`, requestId: id, details: { field: 'id' } }));
        return;
      }
      let text = '';
      if (message) {
        try {
          text = JSON.stringify(message);
        } catch (err) {
          reject(new StreamerError({ code: 'VALIDATION_ERROR', message: `Payload is not JSON: ${(err as Error).message}`, requestId: id, details: { field: 'payload' } }));
          return;
        }
      }
      const bytes = utf8Length(text);
      if (bytes > this.maxMessageBytes) {
        reject(
          new StreamerError({
            code: 'MESSAGE_TOO_LARGE',
            message: `Message of ${bytes} bytes exceeds the ${this.maxMessageBytes}-byte limit`,
            requestId: id,
            details: { size_bytes: bytes, limit_bytes: this.maxMessageBytes },
          }),
        );
        return;
      }
      if (opts.signal?.aborted) {
        reject(cancelledError(id, 'Aborted before it was sent', opts.signal.reason));
        return;
      }
      const p: Pending = {
        id,
        kind,
        text,
        bytes,
        phase: 'waiting',
        resolve: resolve as (data: unknown) => void,
        reject,
        onProgress: opts.onProgress,
        onQueued: opts.onQueued,
        lastProgress: undefined,
        rateLimitRetries: 0,
        timer: undefined,
        retryTimer: undefined,
        detach: undefined,
      };
      const timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs;
      if (timeoutMs && timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.abandon(
            p,
            new StreamerError({ code: 'TIMEOUT', message: `No result within ${timeoutMs} ms`, requestId: id, details: { timeout_ms: timeoutMs, source: CLIENT_SOURCE } }),
          );
        }, timeoutMs);
      }
      if (opts.signal) {
        const signal = opts.signal;
        const onAbort = () => this.abandon(p, cancelledError(id, 'Aborted', signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        p.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.set(id, p);
      this.waiting.push(p);
      this.pump();
    });
  }

  /** Sends waiting requests while there is a free slot; connects when needed. */
  private pump(): void {
    if (this.waiting.length === 0) return;
    if (this.conn.state !== 'connected') {
      this.conn.connect();
      return;
    }
    while (this.waiting.length > 0 && this.inFlight < this.maxInFlight) {
      const p = this.waiting.shift() as Pending;
      this.dispatch(p);
    }
  }

  /** Puts a request on the wire: the request itself, or `subscribe` for a resume. */
  private dispatch(p: Pending): void {
    if (p.kind === 'resume') {
      p.phase = 'queued';
      this.sendControl('subscribe', p.id);
    } else {
      p.phase = 'sent';
      this.conn.send(p.text);
    }
  }

  private handleOpen(): void {
    // Resume async requests, re-send unanswered ones (same id), then the queue.
    for (const p of this.pending.values()) {
      if (p.phase === 'queued') this.sendControl('subscribe', p.id);
      else if (p.phase === 'sent') this.conn.send(p.text);
    }
    for (const id of this.cancelLater) this.sendControl('cancel', id);
    this.cancelLater.clear();
    for (const c of this.controls.values()) {
      if (c.resolve) this.conn.send(controlText(c));
    }
    this.pump();
  }

  private handleSocketClose(code: number): void {
    // Our own subscribes/cancels are re-issued from request state after reconnecting.
    for (const [id, c] of this.controls) {
      if (!c.resolve) {
        this.controls.delete(id);
        if (c.action === 'cancel') this.cancelLater.add(c.target);
      }
    }
    if (code === CloseCodes.MESSAGE_TOO_BIG) {
      // The server refused a frame (its limit is below ours): fail the largest unanswered request
      // rather than re-sending it forever.
      let largest: Pending | undefined;
      for (const p of this.pending.values()) {
        if (p.phase === 'sent' && (!largest || p.bytes > largest.bytes)) largest = p;
      }
      if (largest) {
        this.finish(
          largest,
          new StreamerError({
            code: 'MESSAGE_TOO_LARGE',
            message: 'The server closed the connection because a message was too large (1009)',
            requestId: largest.id,
            details: { size_bytes: largest.bytes, close_code: code },
            closeCode: code,
          }),
        );
      }
    }
  }

  private handleStateChange(change: StateChange): void {
    this.options.onStateChange?.(change);
    this.emit('state', change);
    this.emit(change.state, change);
  }

  private handleMessage(msg: ServerMessage): void {
    this.emit('message', msg);
    switch (msg.type) {
      case 'response': {
        const body = msg.response;
        const c = this.controls.get(body.request_id);
        if (c) return this.controlAnswered(c, body.data);
        const p = this.pending.get(body.request_id);
        if (!p) {
          if (this.abandoned.delete(body.request_id) && body.status === 'queued') this.sendControl('cancel', body.request_id);
          return;
        }
        if (body.status === 'queued') {
          p.phase = 'queued';
          const onQueued = p.onQueued;
          p.onQueued = undefined; // once, even if a re-send is answered `queued` again
          onQueued?.({ requestId: p.id, estimatedDuration: body.estimated_duration, message: body.message });
        } else {
          this.finish(p, undefined, body.data);
        }
        return;
      }
      case 'stats':
        return; // a stats.watch feed: the client does not start one, so nothing waits for it
      case 'progress': {
        const p = this.pending.get(msg.progress.request_id);
        if (p) this.deliverProgress(p, msg.progress);
        return;
      }
      case 'result': {
        this.abandoned.delete(msg.result.request_id);
        const p = this.pending.get(msg.result.request_id);
        if (p) this.finish(p, undefined, msg.result.data);
        return;
      }
      case 'error': {
        const body = msg.error;
        if (body.request_id === null) return; // connection-level: reported with the close that follows
        this.abandoned.delete(body.request_id);
        const c = this.controls.get(body.request_id);
        if (c) return this.controlFailed(c, body);
        const p = this.pending.get(body.request_id);
        if (!p) return;
        if (body.code === 'RATE_LIMITED' && p.phase === 'sent' && p.rateLimitRetries < this.maxRateLimitRetries) {
          p.rateLimitRetries++;
          p.phase = 'retry_wait';
          p.retryTimer = setTimeout(() => {
            p.retryTimer = undefined;
            p.phase = 'sent'; // sent now, or re-sent on the next open
            this.conn.send(p.text);
          }, retryAfter(body));
          return;
        }
        this.finish(p, StreamerError.fromServer(body));
        return;
      }
    }
  }

  /**
   * Delivers progress once and in order: never backwards, and not twice (a
   * resubscribe's snapshot repeats the latest progress the caller may have seen).
   */
  private deliverProgress(p: Pending, progress: Progress, fromSnapshot = false): void {
    const last = p.lastProgress;
    if (last) {
      if (progress.progress < last.progress) return;
      if (progress.progress === last.progress) {
        if (fromSnapshot) return;
        const sameTime = !progress.timestamp || !last.timestamp || progress.timestamp === last.timestamp;
        if (progress.message === last.message && sameTime) return;
      }
    }
    p.lastProgress = progress;
    p.onProgress?.(progress);
    this.options.onProgress?.(progress);
    this.emit('progress', progress);
  }

  private controlAnswered(c: Control, data: unknown): void {
    this.controls.delete(c.id);
    if (c.resolve) return c.resolve(data);
    if (c.action === 'subscribe') {
      const p = this.pending.get(c.target);
      const snapshot = data as RequestSnapshot | undefined;
      if (p && snapshot?.progress) this.deliverProgress(p, snapshot.progress, true);
      // A finished request's stored result or error follows this answer.
    }
  }

  private controlFailed(c: Control, body: ErrorBody): void {
    this.controls.delete(c.id);
    // Resubscribing is how a queued request survives a reconnect: never give it up for a rate limit.
    const resumes = !c.resolve && c.action === 'subscribe';
    if (body.code === 'RATE_LIMITED' && (resumes || c.attempts < CONTROL_RATE_LIMIT_RETRIES)) {
      c.attempts++;
      setTimeout(() => this.resendControl(c), retryAfter(body));
      return;
    }
    const error = StreamerError.fromServer({ ...body, request_id: c.target });
    if (c.reject) return c.reject(error);
    if (c.action !== 'subscribe') return; // a cancel we sent on our own: nothing to do
    const p = this.pending.get(c.target);
    if (!p) return;
    if (body.code === 'NOT_FOUND' && p.kind === 'request') {
      // The server does not know it (e.g. the queued answer was never committed): send it again.
      p.phase = 'sent';
      this.conn.send(p.text);
      return;
    }
    this.finish(p, error);
  }

  /** Sends a control message on our own behalf (fire and forget). */
  private sendControl(action: Control['action'], target: string): void {
    const c: Control = { id: generateRequestId(), action, target, attempts: 0 };
    this.controls.set(c.id, c);
    this.conn.send(controlText(c));
  }

  /** Re-sends a control after RATE_LIMITED, unless it no longer matters. */
  private resendControl(c: Control): void {
    if (!c.resolve && c.action === 'subscribe' && this.pending.get(c.target)?.phase !== 'queued') return;
    this.controls.set(c.id, c);
    this.conn.send(controlText(c));
  }

  /** A `subscribe`/`cancel` made by the caller: resolves with the answer's data. */
  private control(action: Control['action'], target: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const c: Control = { id: generateRequestId(), action, target, resolve, reject, attempts: 0 };
      this.controls.set(c.id, c);
      if (this.conn.state === 'connected') this.conn.send(controlText(c));
      else this.conn.connect(); // sent by handleOpen
    });
  }

  /** Gives up on a request locally (timeout, abort) and cancels its job on the server (not for `subscribe`). */
  private abandon(p: Pending, error: StreamerError): void {
    if (this.pending.get(p.id) !== p) return;
    if (p.kind === 'resume') {
      // Only stop following: the job belongs to whoever started it.
    } else if (p.phase === 'queued') {
      if (this.conn.state === 'connected') this.sendControl('cancel', p.id);
      else this.cancelLater.add(p.id);
    } else if (p.phase === 'sent' || p.phase === 'retry_wait') {
      if (this.conn.state === 'connected') this.abandoned.add(p.id);
      else this.cancelLater.add(p.id);
    }
    this.finish(p, error);
  }

  /** Settles a request, frees its slot and lets the next one go. */
  private finish(p: Pending, error: StreamerError | undefined, data?: unknown): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    const i = this.waiting.indexOf(p);
    if (i >= 0) this.waiting.splice(i, 1);
    clearTimeout(p.timer);
    clearTimeout(p.retryTimer);
    p.detach?.();
    if (error) p.reject(error);
    else p.resolve(data);
    this.pump();
  }

  /** Rejects everything pending (the connection gave up, or `close()`). */
  private failAll(error: StreamerError): void {
    const all = [...this.pending.values()];
    this.waiting.length = 0;
    for (const p of all) {
      this.finish(
        p,
        new StreamerError({ code: error.code, message: error.message, details: error.details, requestId: p.id, retryable: error.retryable, closeCode: error.closeCode }),
      );
    }
    for (const c of this.controls.values()) c.reject?.(error);
    this.controls.clear();
    this.abandoned.clear();
    this.cancelLater.clear();
  }
}

function controlText(c: Control): string {
  return JSON.stringify({ id: c.id, action: c.action, payload: { request_id: c.target } });
}

function retryAfter(body: ErrorBody): number {
  const ms = body.details?.retry_after_ms;
  return typeof ms === 'number' && ms >= 0 ? ms : 1000;
}

function cancelledError(requestId: string, message: string, reason?: unknown): StreamerError {
  const details: Record<string, unknown> = { source: CLIENT_SOURCE };
  if (reason !== undefined) details.reason = reason instanceof Error ? reason.message : String(reason);
  return new StreamerError({ code: 'CANCELLED', message, requestId, details });
}
