import type { ErrorBody } from './protocol.js';

/** The server's error codes (the API reference's seven plus `CANCELLED`). */
export const SERVER_ERROR_CODES = [
  'VALIDATION_ERROR',
  'NOT_FOUND',
  'UNAUTHORIZED',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'RATE_LIMITED',
  'INVALID_ACTION',
  'CANCELLED',
] as const;

/**
 * Codes the client raises itself, the same in every Streamer SDK (docs/asyncapi.yaml,
 * `x-client.codes`): `MESSAGE_TOO_LARGE` (refused before sending, or closed with
 * 1009), `CONNECTION_FAILED` (could not (re-)connect within `maxAttempts`),
 * `CLIENT_CLOSED` (`client.close()` while the request was pending).
 */
export const CLIENT_ERROR_CODES = ['MESSAGE_TOO_LARGE', 'CONNECTION_FAILED', 'CLIENT_CLOSED'] as const;

/** Error codes a {@link StreamerError} can carry. */
export type ErrorCode = (typeof SERVER_ERROR_CODES)[number] | (typeof CLIENT_ERROR_CODES)[number];

/** Whether a code is worth retrying when the server does not say (`details.retryable`). */
export const RETRYABLE_BY_DEFAULT: Readonly<Record<ErrorCode, boolean>> = {
  VALIDATION_ERROR: false,
  NOT_FOUND: false,
  UNAUTHORIZED: false,
  INTERNAL_ERROR: true,
  TIMEOUT: true,
  RATE_LIMITED: true,
  INVALID_ACTION: false,
  CANCELLED: false,
  MESSAGE_TOO_LARGE: false,
  CONNECTION_FAILED: true,
  CLIENT_CLOSED: false,
};

/** `details.source` of TIMEOUT and CANCELLED errors the client raises itself (its timeout, an abort). */
export const CLIENT_SOURCE = 'client';

const KNOWN_CODES = new Set(Object.keys(RETRYABLE_BY_DEFAULT));

export interface StreamerErrorInit {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  requestId?: string | null;
  retryable?: boolean;
  /** WebSocket close code when the error comes from a closed connection. */
  closeCode?: number;
}

/**
 * The one error type the client rejects with.
 *
 * `code` is one of {@link ErrorCode}; `details` is the server's `details` object
 * (e.g. `field`/`expected`/`received` for validation errors, `retry_after_ms` for
 * rate limits, `reason` for authentication failures); `requestId` is the request it
 * belongs to (null for connection-level errors); `retryable` comes from
 * `details.retryable` when the server sends it, otherwise from the API reference's
 * table.
 */
export class StreamerError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  readonly retryable: boolean;
  readonly closeCode: number | undefined;

  constructor(init: StreamerErrorInit) {
    super(init.message);
    this.name = 'StreamerError';
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.retryable = init.retryable ?? RETRYABLE_BY_DEFAULT[init.code];
    this.closeCode = init.closeCode;
  }

  /** Builds the error carried by a server `error` message. */
  static fromServer(body: ErrorBody): StreamerError {
    const details = body.details ?? {};
    // An unknown code from a newer server still maps to something actionable.
    const code = (KNOWN_CODES.has(body.code) ? body.code : 'INTERNAL_ERROR') as ErrorCode;
    const extra = code === body.code ? {} : { server_code: body.code };
    return new StreamerError({
      code,
      message: body.message || body.code,
      details: { ...details, ...extra },
      requestId: body.request_id,
      retryable: typeof details.retryable === 'boolean' ? details.retryable : undefined,
    });
  }
}

/** WebSocket close codes with a meaning in Streamer (docs/asyncapi.yaml, `x-close-codes`). */
export const CloseCodes = {
  NORMAL: 1000,
  /** Maximum connection lifetime reached: reconnect silently. */
  GOING_AWAY: 1001,
  /** The client broke RFC 6455 framing: reconnect with backoff. */
  PROTOCOL_ERROR: 1002,
  /** Closed without a close frame (network failure, server killed). */
  ABNORMAL: 1006,
  /** A fragmented message did not complete within the server's fragment timeout. */
  POLICY_VIOLATION: 1008,
  /** A message exceeded the server's size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** Server draining for shutdown/restart: reconnect with backoff. */
  SERVICE_RESTART: 1012,
  /** The client read too slowly and results overflowed its queue: reconnect and resubscribe. */
  TRY_AGAIN_LATER: 1013,
  /** Missing, invalid or expired token: refresh through `getToken` and reconnect. */
  UNAUTHORIZED: 4401,
  /** Tenant not allowed: fatal. */
  FORBIDDEN: 4403,
  /** Too many new connections from this IP: reconnect with backoff. */
  RATE_LIMITED: 4429,
} as const;

/** What the connection does after a close, decided by {@link closePolicy}. */
export type CloseAction =
  | { kind: 'reconnect'; delay: 'immediate' | 'backoff'; refreshToken: boolean }
  | { kind: 'fail' };

/**
 * Reconnection policy per close code (docs/asyncapi.yaml, `x-close-codes`).
 * `canRefreshToken` is true when the client has a `getToken` callback; without one
 * an authentication failure is final. `immediate` applies to the first attempt after
 * a working connection; later attempts back off.
 */
export function closePolicy(code: number, canRefreshToken: boolean): CloseAction {
  switch (code) {
    case CloseCodes.UNAUTHORIZED:
      return canRefreshToken
        ? { kind: 'reconnect', delay: 'immediate', refreshToken: true }
        : { kind: 'fail' };
    case CloseCodes.FORBIDDEN:
      return { kind: 'fail' };
    case CloseCodes.GOING_AWAY:
    case CloseCodes.TRY_AGAIN_LATER:
      return { kind: 'reconnect', delay: 'immediate', refreshToken: false };
    default:
      // 1006, 1011, 1012, 4429, 1009, a server's plain 1000 … : come back with backoff.
      return { kind: 'reconnect', delay: 'backoff', refreshToken: false };
  }
}

/**
 * The error that a close code stands for, enriched by the `error` message
 * (`request_id: null`) the server sent just before closing, if any.
 */
export function errorFromClose(code: number, reason: string, serverError?: ErrorBody): StreamerError {
  const details: Record<string, unknown> = { ...(serverError?.details ?? {}), close_code: code };
  if (reason && details.close_reason === undefined) details.close_reason = reason;
  const message = serverError?.message;
  switch (code) {
    case CloseCodes.UNAUTHORIZED:
      return new StreamerError({ code: 'UNAUTHORIZED', message: message ?? 'Unauthorized', details, closeCode: code, retryable: false });
    case CloseCodes.FORBIDDEN:
      return new StreamerError({ code: 'UNAUTHORIZED', message: message ?? 'Tenant not allowed', details, closeCode: code, retryable: false });
    case CloseCodes.RATE_LIMITED:
      return new StreamerError({ code: 'RATE_LIMITED', message: message ?? 'Too many connections', details, closeCode: code, retryable: true });
    case CloseCodes.MESSAGE_TOO_BIG:
      return new StreamerError({ code: 'MESSAGE_TOO_LARGE', message: message ?? 'Message too large for the server', details, closeCode: code, retryable: false });
    default:
      return new StreamerError({
        code: 'CONNECTION_FAILED',
        message: message ?? `Connection closed (${code}${reason ? `: ${reason}` : ''})`,
        details,
        closeCode: code,
        retryable: true,
      });
  }
}
