import { backoffDelay, type ResolvedReconnectOptions } from './backoff.js';
import { CloseCodes, closePolicy, errorFromClose, StreamerError } from './errors.js';
import { parseServerMessage, type ErrorBody, type ServerMessage } from './protocol.js';
import {
  messageText,
  OPEN,
  resolveWebSocket,
  type CloseEventLike,
  type MessageEventLike,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket.js';

/** Connection states, as in centrifuge-js. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected';

/** Passed to `onStateChange` and the `state` event. */
export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Close code that caused the change (absent for `connected` and first connects). */
  code?: number;
  reason?: string;
  /** Set when the client gave up (`disconnected` after a fatal close or too many attempts). */
  error?: StreamerError;
}

/** Supplies the JWT: a fixed token, or a callback that can fetch a fresh one. */
export class TokenSource {
  private cached: string | undefined;

  constructor(
    private readonly token: string | undefined,
    private readonly getToken: (() => string | Promise<string>) | undefined,
  ) {
    if (token === undefined && getToken === undefined) {
      throw new TypeError('StreamerClient needs `token` or `getToken`');
    }
  }

  /** True when a rejected token can be replaced (a `getToken` callback exists). */
  get canRefresh(): boolean {
    return this.getToken !== undefined;
  }

  /** The token to connect with; `refresh` asks the callback for a new one. */
  async get(refresh: boolean): Promise<string> {
    if (!this.getToken) return this.token as string;
    if (refresh || this.cached === undefined) this.cached = await this.getToken();
    return this.cached;
  }
}

/** What the connection reports to its owner (the client). */
export interface ConnectionHooks {
  /** The socket is open: (re)send what must be sent. */
  onOpen(): void;
  onMessage(msg: ServerMessage): void;
  /** A socket closed or an attempt failed; `willReconnect` says whether another attempt follows. */
  onSocketClose(code: number, reason: string, willReconnect: boolean): void;
  onStateChange(change: StateChange): void;
  /** The connection gave up; everything pending must fail with `error`. */
  onFail(error: StreamerError): void;
}

export interface ConnectionOptions {
  endpoint: string;
  tokens: TokenSource;
  reconnect: ResolvedReconnectOptions;
  WebSocket?: WebSocketConstructor;
  /**
   * A connection that stays open this long, or delivers a message that is not a
   * connection-level error, resets the attempt counter. A server that accepts the
   * upgrade and then closes at once (a bad token) therefore still runs out of attempts.
   */
  stableAfterMs?: number;
}

/**
 * One logical connection: opens WebSockets, and after a close decides from the close
 * code whether and when to open the next one (exponential backoff with jitter,
 * immediate for 1001/1013/4401, token refresh for 4401, none for 4403).
 */
export class Connection {
  state: ConnectionState = 'disconnected';
  private ws: WebSocketLike | undefined;
  /** True while the owner wants to be connected. */
  private active = false;
  /** Consecutive failed attempts since the last stable connection. */
  private failures = 0;
  private refreshToken = false;
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `error` with `request_id: null` the server sent before closing, if any. */
  private serverError: ErrorBody | undefined;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  /** Starts connecting unless already connected or connecting. */
  connect(): void {
    if (this.active) return;
    this.active = true;
    this.failures = 0;
    void this.open();
  }

  /** Sends a text frame; false when there is no open socket. */
  send(text: string): boolean {
    const ws = this.ws;
    if (!ws || this.state !== 'connected' || ws.readyState !== OPEN) return false;
    ws.send(text);
    return true;
  }

  /** Closes for good (until the next `connect`); resolves when the socket is closed. */
  close(code: number = CloseCodes.NORMAL, reason = ''): Promise<void> {
    this.active = false;
    this.generation++;
    this.clearTimers();
    const ws = this.ws;
    this.ws = undefined;
    this.setState('disconnected', { code, reason });
    if (!ws) return Promise.resolve();
    return new Promise((resolve) => {
      const done = setTimeout(resolve, 2000);
      ws.onopen = null;
      ws.onmessage = null;
      ws.onerror = () => {}; // `ws` throws on an 'error' nobody listens to
      ws.onclose = () => {
        clearTimeout(done);
        resolve();
      };
      try {
        ws.close(code, reason);
      } catch {
        clearTimeout(done);
        resolve();
      }
    });
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    this.setState('connecting', {});
    let ws: WebSocketLike;
    try {
      const token = await this.opts.tokens.get(this.refreshToken);
      this.refreshToken = false;
      const WS = await resolveWebSocket(this.opts.WebSocket);
      if (gen !== this.generation) return;
      ws = new WS(buildUrl(this.opts.endpoint, token));
    } catch (err) {
      if (gen !== this.generation) return;
      this.handleClose(CloseCodes.ABNORMAL, `connect failed: ${(err as Error)?.message ?? String(err)}`);
      return;
    }
    this.ws = ws;
    this.serverError = undefined;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      this.setState('connected', {});
      this.stableTimer = setTimeout(() => (this.failures = 0), this.opts.stableAfterMs ?? 5000);
      this.hooks.onOpen();
    };
    ws.onmessage = (ev: MessageEventLike) => {
      if (gen !== this.generation) return;
      const text = messageText(ev.data);
      const msg = text === undefined ? undefined : parseServerMessage(text);
      if (!msg) return;
      if (msg.type === 'error' && msg.error.request_id === null) this.serverError = msg.error;
      else this.failures = 0;
      this.hooks.onMessage(msg);
    };
    ws.onerror = () => {
      // A close event always follows; the close code carries the information.
    };
    ws.onclose = (ev: CloseEventLike) => {
      if (gen !== this.generation) return;
      this.ws = undefined;
      this.handleClose(ev.code, ev.reason);
    };
  }

  /** Applies the close policy: reconnect (after a delay) or give up. */
  private handleClose(code: number, reason: string): void {
    this.clearTimers();
    const serverError = this.serverError;
    this.serverError = undefined;
    if (!this.active) return;
    const action = closePolicy(code, this.opts.tokens.canRefresh);
    const error = errorFromClose(code, reason, serverError);
    const { maxAttempts } = this.opts.reconnect;
    if (action.kind === 'fail' || this.failures >= maxAttempts) {
      this.hooks.onSocketClose(code, reason, false);
      this.active = false;
      this.setState('disconnected', { code, reason, error });
      this.hooks.onFail(error);
      return;
    }
    // `immediate` only right after a working connection, so a server that keeps closing is not hammered.
    let delay = action.delay === 'immediate' && this.failures === 0 ? 0 : backoffDelay(this.failures, this.opts.reconnect);
    const retryAfter = error.details.retry_after_ms;
    if (code === CloseCodes.RATE_LIMITED && typeof retryAfter === 'number') delay = Math.max(delay, retryAfter);
    this.failures++;
    if (action.kind === 'reconnect' && action.refreshToken) this.refreshToken = true;
    this.hooks.onSocketClose(code, reason, true);
    this.setState('connecting', { code, reason });
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }

  private setState(state: ConnectionState, extra: Omit<StateChange, 'state' | 'previous'>): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.hooks.onStateChange({ state, previous, ...extra });
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    this.retryTimer = undefined;
    this.stableTimer = undefined;
  }
}

/** `endpoint` with the token in the `Authorization` query parameter (works in browsers too). */
export function buildUrl(endpoint: string, token: string): string {
  const url = new URL(endpoint);
  url.searchParams.set('Authorization', token);
  return url.toString();
}
