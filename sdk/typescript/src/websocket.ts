/**
 * The small part of the WHATWG WebSocket interface the client uses. Both the
 * browser's native `WebSocket` and the `ws` package's class satisfy it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  // Event parameters are `any` so that both DOM and `ws` classes are assignable;
  // the client only reads `data` (message) and `code`/`reason` (close).
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** What the client reads from events. */
export interface MessageEventLike {
  data: unknown;
}
export interface CloseEventLike {
  code: number;
  reason: string;
}

/** A WebSocket class (`globalThis.WebSocket`, `ws`'s default export, or a test double). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const OPEN = 1;

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

let nodeWebSocket: Promise<WebSocketConstructor> | undefined;

/**
 * Picks the WebSocket implementation: the one given in the options, else `ws` on
 * Node (native WebSocket is not stable on Node 20), else the global one.
 */
export function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return Promise.resolve(given);
  if (isNode()) {
    nodeWebSocket ??= import('ws').then((m) => (m.default ?? m) as unknown as WebSocketConstructor);
    return nodeWebSocket;
  }
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (native) return Promise.resolve(native);
  return Promise.reject(new Error('No WebSocket implementation found: pass the `WebSocket` option'));
}

/** Text of a message event; frames the server never sends (binary) decode as UTF-8. */
export function messageText(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data as Uint8Array);
  return undefined;
}
