/**
 * Reconnection policy. Defaults follow the API reference (5 attempts, 2ⁿ seconds) and
 * are the same in every Streamer SDK (docs/asyncapi.yaml, `x-client.defaults`).
 */
export interface ReconnectOptions {
  /** Consecutive failed attempts before giving up (default 5). 0 disables reconnection. */
  maxAttempts?: number;
  /** Delay before the first retry; retry n waits up to baseDelayMs·2ⁿ (default 1000). */
  baseDelayMs?: number;
  /** Upper bound of one delay (default 30000). */
  maxDelayMs?: number;
  /**
   * Share of each delay removed at random, in [0, 1] (default 0.5): retry n waits
   * between d·(1−jitter) and d, where d = min(maxDelayMs, baseDelayMs·2ⁿ), so that
   * many clients dropped at once do not come back in lockstep.
   */
  jitter?: number;
}

export type ResolvedReconnectOptions = Required<ReconnectOptions>;

export const DEFAULT_RECONNECT: ResolvedReconnectOptions = {
  maxAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  jitter: 0.5,
};

export function resolveReconnect(o: ReconnectOptions | undefined): ResolvedReconnectOptions {
  const r = { ...DEFAULT_RECONNECT, ...(o ?? {}) };
  r.jitter = Math.min(1, Math.max(0, r.jitter));
  return r;
}

/** Delay in ms before retry number `attempt` (0-based): in [d·(1−jitter), d], d = min(maxDelayMs, baseDelayMs·2ⁿ). */
export function backoffDelay(
  attempt: number,
  o: ResolvedReconnectOptions,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.min(attempt, 62));
  return Math.round(nominal * (1 - o.jitter) + nominal * o.jitter * random());
}
