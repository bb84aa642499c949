/**
 * Wire types of the Streamer protocol, written after docs/asyncapi.yaml in the server
 * repository (test/unit-schema.test.ts checks the runtime lists below against it).
 * Every server message is an envelope `{type, <type>: body}`.
 */

/** The `type` of every message the server sends. */
export const SERVER_MESSAGE_TYPES = ['response', 'progress', 'result', 'error', 'stats'] as const;

/** Status of an async request as reported by `subscribe`. */
export const REQUEST_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

/** `status` of a `cancel` answer. */
export const CANCEL_STATUSES = ['cancelled', 'cancelling', 'succeeded', 'failed', 'unknown'] as const;

/** A request as sent by the client. */
export interface RequestMessage {
  id: string;
  action: string;
  payload: unknown;
  metadata?: Record<string, unknown>;
}

/** Body of a `response` message: `success` for sync handlers, `queued` for async ones. */
export interface ResponseBody {
  request_id: string;
  status: 'success' | 'queued';
  data?: unknown;
  message?: string;
  /** Seconds, for `queued` answers. */
  estimated_duration?: number;
  metadata?: Record<string, unknown>;
}

/** Body of a `progress` message. `progress` is a percentage from 0 to 100. */
export interface Progress {
  request_id: string;
  progress: number;
  message?: string;
  metadata?: Record<string, unknown>;
  timestamp?: string;
}

/** Body of a `result` message: the final outcome of an async request. */
export interface ResultBody {
  request_id: string;
  success: boolean;
  data?: unknown;
  metadata?: Record<string, unknown>;
}

/** Body of an `error` message. `request_id` is null for connection-level errors. */
export interface ErrorBody {
  request_id: string | null;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type ServerMessage =
  | { type: 'response'; response: ResponseBody }
  | { type: 'progress'; progress: Progress }
  | { type: 'result'; result: ResultBody }
  | { type: 'error'; error: ErrorBody }
  | { type: 'stats'; stats: StatsBody };

/**
 * One push of a `stats.watch` feed (docs/protocol.md, "Live stats"): `request_id` names
 * the watch; the other fields are the scoped figures of the last second.
 */
export interface StatsBody {
  request_id: string;
  [field: string]: unknown;
}

/** Status of an async request as reported by `subscribe`. */
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** Snapshot returned by `subscribe` (the `data` of its `success` response). */
export interface RequestSnapshot {
  request_id: string;
  action: string;
  status: RequestStatus;
  attempts?: number;
  progress: Progress | null;
  created_at?: string;
  updated_at?: string;
  /** Set once the request has finished. */
  finished_at?: string;
}

/**
 * Answer of `cancel`: `cancelled` (it was queued), `cancelling` (running), or the final
 * status of a finished request (`unknown` only if the server could not read it back).
 */
export interface CancelResult {
  request_id: string;
  status: (typeof CANCEL_STATUSES)[number];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one text frame. Returns undefined for anything that is not a well-formed
 * server envelope (the client ignores such frames rather than failing).
 */
export function parseServerMessage(text: string): ServerMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value) || typeof value.type !== 'string') return undefined;
  const body = value[value.type];
  if (!isObject(body)) return undefined;
  switch (value.type as (typeof SERVER_MESSAGE_TYPES)[number]) {
    case 'response':
    case 'progress':
    case 'result':
    case 'stats':
      if (typeof body.request_id !== 'string') return undefined;
      return value as unknown as ServerMessage;
    case 'error':
      if (typeof body.code !== 'string') return undefined;
      if (body.request_id !== null && typeof body.request_id !== 'string') body.request_id = null;
      return value as unknown as ServerMessage;
    default:
      return undefined;
  }
}

/** UTF-8 length of a string, as the server counts message size. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
