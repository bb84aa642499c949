/**
 * `StreamerWorker`: serve Streamer actions from TypeScript/JavaScript.
 *
 * ```ts
 * const worker = new StreamerWorker({ url: 'ws://localhost:8080/production', getToken: async () => jwt });
 * worker.handle('resize_images', { schema: { type: 'object', required: ['urls'] } }, async (job, { signal }) => {
 *   job.reportProgress(50, 'half way');
 *   return { resized: job.payload.urls.length };
 * });
 * await worker.run(); // until SIGTERM/SIGINT or worker.close()
 * ```
 *
 * Each action gets its own connection (a {@link Lane}), so its `concurrency` is
 * enforced by the server's credits. Shutdown is graceful: no new jobs, jobs in flight
 * get `shutdownGraceMs` to finish and report, the rest are abandoned (their leases
 * lapse and the server retries them on another worker).
 */
import { DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.js';
import { TokenSource } from './connection.js';
import type { WebSocketConstructor } from './websocket.js';
import { Lane, type ActionOptions, type ActionSpec, type WorkerHandler } from './worker-lane.js';

export interface StreamerWorkerOptions {
  /** Stage URL (`ws://host:8080/production`) or its `/workers` endpoint. */
  url: string;
  /** A JWT with the `worker` permission and the served actions in its `actions` claim. */
  token?: string;
  /** Returns such a JWT; called on the first connect and again after a 4401 close. */
  getToken?: () => string | Promise<string>;
  /** Default concurrency of actions that do not set their own (default 1). */
  concurrency?: number;
  /** Time jobs in flight get to finish on shutdown (default 30000 ms). */
  shutdownGraceMs?: number;
  /** Backoff between reconnects; `maxAttempts` is ignored (a worker reconnects for ever). */
  reconnect?: Omit<ReconnectOptions, 'maxAttempts'>;
  /** Minimum interval between two progress frames of one job (default 50 ms). */
  progressIntervalMs?: number;
  /** Stop gracefully on SIGTERM/SIGINT while `run()` runs (Node; default true). */
  handleSignals?: boolean;
  WebSocket?: WebSocketConstructor;
}

/** The worker endpoint for `url`: `/workers` is appended to a stage URL. */
export function workerUrl(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith('/workers') ? path : `${path}/workers`;
  return u.toString();
}

const PERMISSIONS = new Set(['read', 'write', 'admin']);

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`);
  return v;
}

export class StreamerWorker {
  private readonly specs = new Map<string, ActionSpec>();
  private readonly tokens: TokenSource;
  private lanes: Lane[] = [];
  private stopRequested: (() => void) | undefined;
  private running = false;
  private abandon = false;
  private stopping = false;
  readonly shutdownGraceMs: number;

  constructor(private readonly opts: StreamerWorkerOptions) {
    if (opts.token !== undefined && opts.getToken !== undefined) throw new TypeError('give `token` or `getToken`, not both');
    this.tokens = new TokenSource(opts.token, opts.getToken);
    positiveInt('concurrency', opts.concurrency ?? 1);
    this.shutdownGraceMs = opts.shutdownGraceMs ?? 30_000;
  }

  /** Registers `handler` for action `name` (checked here, and by the server at registration). */
  handle<P = any, R = unknown>(name: string, options: ActionOptions, handler: WorkerHandler<P, R>): this {
    if (!name) throw new TypeError('action name must be a non-empty string');
    if (this.specs.has(name)) throw new Error(`action ${name} already has a handler`);
    const permission = options.permission ?? 'write';
    if (!PERMISSIONS.has(permission)) throw new RangeError('permission must be read, write or admin');
    this.specs.set(name, {
      name,
      handler: handler as WorkerHandler,
      schema: options.schema ?? { type: 'object' },
      estimatedDuration: positiveInt('estimatedDuration', options.estimatedDuration ?? 0, 0),
      permission,
      timeLimit: positiveInt('timeLimit', options.timeLimit ?? 30_000),
      maxAttempts: positiveInt('maxAttempts', options.maxAttempts ?? 3),
      concurrency: positiveInt('concurrency', options.concurrency ?? this.opts.concurrency ?? 1),
    });
    return this;
  }

  /** Names of the actions with a handler. */
  get actions(): string[] {
    return [...this.specs.keys()];
  }

  /** Handlers running now, over all actions. */
  get inFlight(): number {
    return this.lanes.reduce((n, l) => n + l.inFlight, 0);
  }

  /**
   * Serves until {@link close} (or SIGTERM/SIGINT), then shuts down gracefully and
   * resolves. Rejects with a `StreamerError` when the server refuses the worker for
   * good (a `RegistrationError`, 4403, a rejected token that cannot be refreshed).
   */
  async run(): Promise<void> {
    if (this.specs.size === 0) throw new Error('no handlers: call worker.handle(...) first');
    if (this.running) throw new Error('the worker is already running');
    this.running = true;
    this.abandon = false;
    this.stopping = false;
    const url = workerUrl(this.opts.url);
    const reconnect = { ...DEFAULT_RECONNECT, baseDelayMs: 500, ...(this.opts.reconnect ?? {}), maxAttempts: Infinity };
    this.lanes = [...this.specs.values()].map(
      (spec) =>
        new Lane(spec, url, this.tokens, {
          reconnect,
          progressIntervalMs: this.opts.progressIntervalMs ?? 50,
          WebSocket: this.opts.WebSocket,
        }),
    );
    const stopped = new Promise<void>((resolve) => (this.stopRequested = resolve));
    const onSignal = () => this.close();
    const signals = this.opts.handleSignals !== false && typeof process !== 'undefined' && typeof process.on === 'function';
    if (signals) {
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    }
    const laneRuns = this.lanes.map((l) => l.run());
    try {
      await Promise.race([stopped, ...laneRuns]);
      await this.drain();
    } finally {
      await Promise.all(this.lanes.map((l) => l.close()));
      await Promise.allSettled(laneRuns);
      if (signals) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      this.running = false;
      this.stopRequested = undefined;
    }
  }

  /** Takes no new jobs and waits up to `shutdownGraceMs` for jobs in flight. */
  private async drain(): Promise<void> {
    for (const l of this.lanes) l.drain();
    if (this.abandon) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.shutdownGraceMs)));
    await Promise.race([Promise.all(this.lanes.map((l) => l.waitIdle())), grace]);
    clearTimeout(timer);
  }

  /**
   * Starts a graceful shutdown; `run()` resolves when it is done. With
   * `{ abandon: true }` (or on a second call) jobs in flight are not waited for.
   */
  close(opts: { abandon?: boolean } = {}): void {
    if (!this.stopRequested) return;
    if (opts.abandon || this.stopping) {
      this.abandon = true;
      for (const l of this.lanes) {
        l.drain();
        void l.close();
      }
    }
    this.stopping = true;
    this.stopRequested();
  }
}
