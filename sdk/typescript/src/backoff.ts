/** Reconnection policy. Defaults follow the API reference: 5 attempts, 2ⁿ seconds. */
export interface ReconnectOptions {
  /** Consecutive failed attempts before giving up (default 5). 0 disables reconnection. */
  maxAttempts?: number;
  /** Delay before the first retry; retry n waits baseDelayMs·2ⁿ (default 1000). */
  baseDelayMs?: number;
  /** Upper bound of one delay (default 30000). */
  maxDelayMs?: number;
  /**
   * Relative jitter in [0, 1] (default 0.2): each delay is drawn uniformly from
   * d·(1−jitter) … d·(1+jitter), then capped at maxDelayMs, so that many clients
   * dropped at once do not come back in lockstep.
   */
  jitter?: number;
}

export type ResolvedReconnectOptions = Required<ReconnectOptions>;

export const DEFAULT_RECONNECT: ResolvedReconnectOptions = {
  maxAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  jitter: 0.2,
};

export function resolveReconnect(o: ReconnectOptions | undefined): ResolvedReconnectOptions {
  const r = { ...DEFAULT_RECONNECT, ...(o ?? {}) };
  r.jitter = Math.min(1, Math.max(0, r.jitter));
  return r;
}

/** Delay before retry number `attempt` (0-based), with jitter applied. */
export function backoffDelay(
  attempt: number,
  o: ResolvedReconnectOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  const spread = base * o.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(o.maxDelayMs, Math.round(base + spread)));
}
