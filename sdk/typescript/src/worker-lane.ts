/**
 * One action's connection to the server's worker endpoint.
 *
 * A lane connects, registers its action with `concurrency` credits, runs every `job`
 * the server pushes, and reports `progress`, `complete` and `fail` with the job's
 * fence. The server never pushes more jobs than credits and each complete/fail
 * returns one, so the lane needs no queue. After a drop it reconnects with jittered
 * exponential backoff (for ever, unless refused for good) and registers again;
 * handlers still running keep running, and outcomes are re-sent on the next
 * connection until the server `ack`s them (or answers `stale`).
 */
import { backoffDelay, type ResolvedReconnectOptions } from './backoff.js';
import type { TokenSource } from './connection.js';
import { buildUrl } from './connection.js';
import { CloseCodes, closePolicy, errorFromClose, StreamerError, type ErrorCode } from './errors.js';
import type { ErrorBody } from './protocol.js';
import { messageText, OPEN, resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket.js';
import { Job, JobError, type JobFrame } from './worker-job.js';

/** Frames the server sends a worker (besides `error`), all handled by a lane. */
export const WORKER_EVENT_TYPES = ['registered', 'job', 'cancel', 'ack', 'stale'] as const;
/** Frames a lane sends (the protocol also has `credit`, which the SDK does not need). */
export const WORKER_SENT_TYPES = ['register', 'progress', 'complete', 'fail', 'heartbeat'] as const;

/** What a handler gets beside the job. */
export interface HandlerContext {
  /** Aborted when the server cancels the job; `signal.reason` is the reason. */
  signal: AbortSignal;
}

export type WorkerHandler<P = any, R = unknown> = (job: Job<P>, ctx: HandlerContext) => Promise<R> | R;

/** The spec registered for one action (durations in milliseconds). */
export interface ActionOptions {
  /** JSON Schema of the payload; the server validates before queueing (default: any object). */
  schema?: Record<string, unknown>;
  /** Milliseconds (default 0, as the server's). */
  estimatedDuration?: number;
  /** Permission a client needs: 'read' | 'write' | 'admin' (default 'write'). */
  permission?: 'read' | 'write' | 'admin';
  /** Milliseconds (default 30000, as the server's). */
  timeLimit?: number;
  /** Default 3. */
  maxAttempts?: number;
  /** Jobs of this action run at once (the connection's credits). */
  concurrency?: number;
}

export interface ActionSpec {
  name: string;
  handler: WorkerHandler;
  schema: Record<string, unknown>;
  estimatedDuration: number;
  permission: 'read' | 'write' | 'admin';
  timeLimit: number;
  maxAttempts: number;
  concurrency: number;
}

export interface LaneOptions {
  reconnect: ResolvedReconnectOptions;
  progressIntervalMs: number;
  WebSocket?: WebSocketConstructor;
}

/** The server refused to register an action: fatal for the worker. */
export class RegistrationError extends StreamerError {
  constructor(body: ErrorBody) {
    const e = StreamerError.fromServer(body);
    super({ code: e.code as ErrorCode, message: e.message, details: e.details, retryable: false });
    this.name = 'RegistrationError';
  }
}

interface Running {
  job: Job;
  abort: AbortController;
}

interface SessionEnd {
  code: number;
  reason: string;
  registered: boolean;
  serverError?: ErrorBody;
  fatal?: StreamerError;
}

export class Lane {
  private ws: WebSocketLike | undefined;
  private registered = false;
  private draining = false;
  private closed = false;
  private readonly running = new Map<string, Running>();
  private readonly unacked = new Map<string, string>(); // outcome frames (JSON text) by job id
  private quietWaiters: (() => void)[] = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private wake: (() => void) | undefined;
  private resendTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when the current connection's close event has been handled. */
  private sessionEnded: Promise<unknown> = Promise.resolve();
  jobsStarted = 0;
  leaseTtlMs: number | undefined;

  constructor(
    readonly spec: ActionSpec,
    private readonly url: string,
    private readonly tokens: TokenSource,
    private readonly opts: LaneOptions,
  ) {}

  get inFlight(): number {
    return this.running.size;
  }

  /** Takes no new jobs: jobs pushed from now on are failed at once as retryable. */
  drain(): void {
    this.draining = true;
  }

  /** Resolves when no handler runs and every outcome was acknowledged. */
  waitIdle(): Promise<void> {
    if (this.isQuiet()) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  /** Stops: aborts running handlers without reporting (their leases lapse) and closes. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.resendTimer);
    for (const r of this.running.values()) {
      r.job.finish();
      r.abort.abort('shutdown');
    }
    this.running.clear();
    this.unacked.clear();
    this.checkQuiet();
    this.wake?.();
    const ws = this.ws;
    if (ws) {
      const ended = this.sessionEnded;
      try {
        ws.close(CloseCodes.NORMAL, 'worker shutdown');
      } catch {
        // already closing
      }
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([ended, new Promise<void>((resolve) => (t = setTimeout(resolve, 2000)))]);
      clearTimeout(t);
    }
  }

  /** Connects, serves and reconnects until {@link close}; rejects when refused for good. */
  async run(): Promise<void> {
    let attempt = 0;
    let refresh = false;
    let refreshedUntested = false;
    while (!this.closed) {
      let end: SessionEnd;
      try {
        const token = await this.tokens.get(refresh);
        refreshedUntested = refresh;
        refresh = false;
        end = await this.session(token);
      } catch (err) {
        end = { code: CloseCodes.ABNORMAL, reason: `connect failed: ${(err as Error)?.message ?? err}`, registered: false };
      }
      if (end.fatal) throw end.fatal;
      if (this.closed) return;
      if (end.registered) {
        attempt = 0;
        refreshedUntested = false;
      }
      const action = closePolicy(end.code, this.tokens.canRefresh && !refreshedUntested);
      if (action.kind === 'fail') throw errorFromClose(end.code, end.reason, end.serverError);
      if (action.refreshToken) refresh = true;
      const delay = action.delay === 'immediate' && attempt === 0 ? 0 : backoffDelay(attempt, this.opts.reconnect);
      attempt++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** One connection: register, dispatch frames, resolve on close. */
  private async session(token: string): Promise<SessionEnd> {
    const WS = await resolveWebSocket(this.opts.WebSocket);
    if (this.closed) return { code: CloseCodes.NORMAL, reason: '', registered: false };
    const ended = new Promise<SessionEnd>((resolve) => {
      const ws = new WS(buildUrl(this.url, token));
      this.ws = ws;
      const end: SessionEnd = { code: CloseCodes.ABNORMAL, reason: '', registered: false };
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: 'register', actions: [this.specWire()], concurrency: this.spec.concurrency }));
      };
      ws.onmessage = (ev: { data: unknown }) => {
        const text = messageText(ev.data);
        let msg: Record<string, any>;
        try {
          msg = JSON.parse(text ?? '');
        } catch {
          return;
        }
        if (msg === null || typeof msg !== 'object') return;
        if (msg.type === 'error' && msg.error && typeof msg.error === 'object') {
          if (msg.error.request_id === null || msg.error.request_id === undefined) end.serverError = msg.error;
          if (!end.registered) {
            end.fatal = new RegistrationError({ request_id: null, ...msg.error });
            ws.close(CloseCodes.NORMAL, 'registration refused');
          } else if (msg.error.code === 'RATE_LIMITED') {
            this.resendUnackedLater(Number(msg.error.details?.retry_after_ms ?? 50));
          }
          return;
        }
        if (msg.type === 'registered') {
          end.registered = true;
          this.onRegistered(ws, msg);
        } else if (msg.type === 'job') this.onJob(msg as JobFrame);
        else if (msg.type === 'cancel') this.onCancel(msg);
        else if (msg.type === 'ack' || msg.type === 'stale') this.onSettled(msg, msg.type === 'stale');
      };
      ws.onerror = () => {
        // a close event follows
      };
      ws.onclose = (ev: { code: number; reason: string }) => {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
        this.registered = false;
        if (this.ws === ws) this.ws = undefined;
        end.code = ev.code;
        end.reason = ev.reason;
        resolve(end);
      };
    });
    this.sessionEnded = ended;
    return ended;
  }

  private specWire(): Record<string, unknown> {
    const s = this.spec;
    return {
      name: s.name,
      estimated_duration: s.estimatedDuration,
      permission: s.permission,
      time_limit: s.timeLimit,
      max_attempts: s.maxAttempts,
      schema: s.schema,
    };
  }

  /**
   * The server names no job in a refused frame, so after `RATE_LIMITED` every
   * unacknowledged outcome is sent again once `retry_after_ms` has passed (a
   * duplicate is answered `stale` and has no effect).
   */
  private resendUnackedLater(ms: number): void {
    if (this.resendTimer !== undefined || this.unacked.size === 0) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      for (const frame of this.unacked.values()) this.sendText(frame);
    }, Math.max(0, ms));
  }

  private onRegistered(ws: WebSocketLike, msg: Record<string, any>): void {
    this.registered = true;
    this.leaseTtlMs = typeof msg.lease_ttl_ms === 'number' ? msg.lease_ttl_ms : undefined;
    const every = typeof msg.heartbeat_ms === 'number' && msg.heartbeat_ms > 0 ? msg.heartbeat_ms : 5000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (ws.readyState === OPEN) ws.send('{"type":"heartbeat"}');
    }, every);
    for (const frame of this.unacked.values()) this.sendText(frame); // outcomes the last connection did not confirm
  }

  /** Sends on the current connection if registered; otherwise drops (outcomes are kept in `unacked`). */
  private send(frame: Record<string, unknown>): void {
    this.sendText(JSON.stringify(frame));
  }

  private sendText(text: string): void {
    const ws = this.ws;
    if (ws && this.registered && ws.readyState === OPEN) ws.send(text);
  }

  private onJob(frame: JobFrame): void {
    if (typeof frame.job_id !== 'string' || this.running.has(frame.job_id)) return;
    const job = new Job(frame, (f) => this.send(f), this.opts.progressIntervalMs);
    if (this.draining || this.closed) {
      this.settle(job, undefined, new JobError('INTERNAL_ERROR', 'worker shutting down', { reason: 'worker_shutdown' }, true));
      return;
    }
    const abort = new AbortController();
    this.running.set(job.jobId, { job, abort });
    this.jobsStarted++;
    void this.runJob(job, abort);
  }

  /** Runs the handler and reports its outcome, unless the job was cancelled or lost meanwhile. */
  private async runJob(job: Job, abort: AbortController): Promise<void> {
    let data: unknown;
    let error: JobError | undefined;
    try {
      data = await this.spec.handler(job, { signal: abort.signal });
      if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data))) {
        error = new JobError('INTERNAL_ERROR', `handler returned ${Array.isArray(data) ? 'an array' : typeof data}, expected an object`, {}, false);
      }
    } catch (err) {
      if (err instanceof JobError) error = err;
      else {
        const e = err as Error;
        error = new JobError('INTERNAL_ERROR', `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, { exception: e?.name ?? typeof err }, true);
      }
    }
    const current = this.running.get(job.jobId);
    if (!current || current.job !== job) return; // cancelled (already reported), stale, or closed
    this.running.delete(job.jobId);
    this.settle(job, (data ?? {}) as Record<string, unknown>, error);
    this.checkQuiet();
  }

  /**
   * A server cancel (`cancelled`, `timeout`, `shutdown`) ends the job for the server
   * and returns its credit: abort the handler's signal and report nothing more (the
   * handler's eventual outcome is ignored).
   */
  private onCancel(msg: Record<string, any>): void {
    const r = this.running.get(String(msg.job_id));
    if (!r || (msg.fence !== undefined && msg.fence !== r.job.fence)) return;
    this.running.delete(r.job.jobId);
    r.job.finish();
    r.abort.abort(String(msg.reason ?? 'cancelled'));
    this.checkQuiet();
  }

  private onSettled(msg: Record<string, any>, stale: boolean): void {
    const id = String(msg.job_id);
    this.unacked.delete(id);
    const r = this.running.get(id);
    if (stale && r && (msg.fence === undefined || msg.fence === r.job.fence)) {
      // The attempt lost its lease: stop the handler, report nothing.
      this.running.delete(id);
      r.job.finish();
      r.abort.abort('stale');
    }
    this.checkQuiet();
  }

  private settle(job: Job, data: Record<string, unknown> | undefined, error: JobError | undefined): void {
    job.finish();
    let frame: Record<string, unknown> = error
      ? { type: 'fail', job_id: job.jobId, fence: job.fence, error: error.toWire() }
      : { type: 'complete', job_id: job.jobId, fence: job.fence, data: data ?? {} };
    let text: string;
    try {
      text = JSON.stringify(frame); // serialized once: kept for a resend, sent now
    } catch (e) {
      frame = { type: 'fail', job_id: job.jobId, fence: job.fence, error: new JobError('INTERNAL_ERROR', `result is not JSON: ${(e as Error).message}`, {}, false).toWire() };
      text = JSON.stringify(frame);
    }
    this.unacked.set(job.jobId, text);
    this.sendText(text);
  }

  private isQuiet(): boolean {
    return this.running.size === 0 && this.unacked.size === 0;
  }

  private checkQuiet(): void {
    if (!this.isQuiet()) return;
    const waiters = this.quietWaiters;
    this.quietWaiters = [];
    for (const w of waiters) w();
  }
}
