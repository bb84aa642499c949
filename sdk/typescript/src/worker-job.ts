/**
 * What a remote handler receives ({@link Job}, an AbortSignal) and throws ({@link JobError}).
 *
 * A handler is `async (job, { signal }) => data`. Its return value completes the job;
 * a {@link JobError} fails it with the code, details and retryability the handler
 * chose; any other exception fails it with `INTERNAL_ERROR` (retryable). When the
 * server cancels the job (a client's cancel, the time limit, a drain) `signal` aborts
 * with the reason (`'cancelled' | 'timeout' | 'shutdown'`, or `'stale'` when the
 * attempt lost its lease); the job is then over and nothing more is reported.
 */
import { RETRYABLE_BY_DEFAULT, type ErrorCode } from './errors.js';

/** The submitting client's identity, as the server authenticated it. */
export interface JobIdentity {
  user_id?: string;
  tenant_id?: string;
  permissions?: string[];
  [key: string]: unknown;
}

/** A `job` frame as the server sends it. */
export interface JobFrame {
  type: 'job';
  job_id: string;
  fence: unknown;
  action: string;
  request_id: string;
  payload: unknown;
  identity?: JobIdentity;
  attempt?: number;
  time_limit_ms?: number;
  trace_id?: string | null;
}

/** Thrown by a handler to fail its job with a chosen error. */
export class JobError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly retryable: boolean;

  /** `retryable` defaults to the API reference's table for `code` (INTERNAL_ERROR/TIMEOUT: yes). */
  constructor(code: string, message: string, details: Record<string, unknown> = {}, retryable?: boolean) {
    super(message);
    this.name = 'JobError';
    this.code = code;
    this.details = details;
    this.retryable = retryable ?? RETRYABLE_BY_DEFAULT[code as ErrorCode] ?? false;
  }

  /** The `error` object of a worker `fail` frame. */
  toWire(): { code: string; message: string; details: Record<string, unknown>; retryable: boolean } {
    return { code: this.code, message: this.message, details: this.details, retryable: this.retryable };
  }
}

/**
 * One attempt of one job. `jobId` + `fence` name the attempt; every frame about it
 * carries both. Progress closer together than `progressIntervalMs` is coalesced: the
 * latest update is sent when the interval has passed.
 */
export class Job<P = any> {
  readonly jobId: string;
  readonly fence: unknown;
  readonly action: string;
  readonly requestId: string;
  readonly payload: P;
  readonly identity: JobIdentity;
  /** 1 for the first attempt, 2 after one lapse or retryable failure, ... */
  readonly attempt: number;
  readonly timeLimitMs: number | undefined;
  readonly traceId: string | undefined;
  private lastSent = 0;
  private pending: Record<string, unknown> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private finished = false;

  constructor(
    frame: JobFrame,
    private readonly send: (frame: Record<string, unknown>) => void,
    private readonly progressIntervalMs: number,
  ) {
    this.jobId = frame.job_id;
    this.fence = frame.fence;
    this.action = frame.action;
    this.requestId = frame.request_id;
    this.payload = (frame.payload ?? {}) as P;
    this.identity = frame.identity ?? {};
    this.attempt = typeof frame.attempt === 'number' ? frame.attempt : 1;
    this.timeLimitMs = frame.time_limit_ms;
    this.traceId = frame.trace_id ?? undefined;
  }

  /** Reports progress (`percent` in [0, 100]); never waits on the network. */
  reportProgress(percent: number, message?: string, metadata?: Record<string, unknown>): void {
    if (this.finished) return;
    if (!(percent >= 0 && percent <= 100)) throw new RangeError('percent must be within [0, 100]');
    const frame: Record<string, unknown> = { type: 'progress', job_id: this.jobId, fence: this.fence, percent };
    if (message !== undefined) frame.message = message;
    if (metadata !== undefined) frame.metadata = metadata;
    const wait = this.lastSent + this.progressIntervalMs - Date.now();
    if (wait <= 0 && this.timer === undefined) {
      this.lastSent = Date.now();
      this.send(frame);
      return;
    }
    this.pending = frame;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const f = this.pending;
      this.pending = undefined;
      if (f && !this.finished) {
        this.lastSent = Date.now();
        this.send(f);
      }
    }, Math.max(0, wait));
  }

  /** @internal No progress after the outcome. */
  finish(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
