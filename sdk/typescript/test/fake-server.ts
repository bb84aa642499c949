/**
 * A scriptable Streamer server for unit tests, built on `ws`'s WebSocketServer.
 * Tests drive each connection step by step: await the client's next message, answer
 * with the envelope helpers, close or drop the socket.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export type Json = Record<string, any>;

const DEFAULT_WAIT_MS = 8000;

class Inbox<T> {
  private items: T[] = [];
  private waiters: { pred: (t: T) => boolean; resolve: (t: T) => void }[] = [];

  push(item: T): void {
    const i = this.waiters.findIndex((w) => w.pred(item));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(item);
    } else {
      this.items.push(item);
    }
  }

  /** The first item (already received or future) matching `pred`; consumes it. */
  take(pred: (t: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const i = this.items.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (t: T) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`fake server: timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Items received and not consumed. */
  get pending(): T[] {
    return [...this.items];
  }
}

export class FakeConn {
  readonly token: string | null;
  readonly path: string;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly inbox = new Inbox<Json>();
  /** Every message received, consumed or not. */
  readonly received: Json[] = [];

  constructor(
    readonly ws: WebSocket,
    url: string,
  ) {
    const u = new URL(url, 'ws://x');
    this.token = u.searchParams.get('Authorization');
    this.path = u.pathname;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Json;
      this.received.push(msg);
      this.inbox.push(msg);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** The next client message matching `pred` (default: any). */
  next(pred: (m: Json) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<Json> {
    return this.inbox.take(pred, timeoutMs, 'a client message');
  }

  /** The next message with this action (`subscribe`, `cancel`, `health`, …). */
  nextAction(action: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Json> {
    return this.inbox.take((m) => m.action === action, timeoutMs, `action ${action}`);
  }

  /** Client messages not yet consumed by `next`. */
  get unread(): Json[] {
    return this.inbox.pending;
  }

  send(msg: Json): void {
    this.ws.send(JSON.stringify(msg));
  }

  success(requestId: string, data: unknown = {}): void {
    this.send({ type: 'response', response: { request_id: requestId, status: 'success', data, metadata: { processing_time: 0.001 } } });
  }

  queued(requestId: string, estimatedDuration = 10): void {
    this.send({ type: 'response', response: { request_id: requestId, status: 'queued', message: 'Request queued for processing', estimated_duration: estimatedDuration } });
  }

  progress(requestId: string, progress: number, message = `step ${progress}`): void {
    this.send({ type: 'progress', progress: { request_id: requestId, progress, message, metadata: {}, timestamp: new Date().toISOString() } });
  }

  result(requestId: string, data: unknown = {}): void {
    this.send({ type: 'result', result: { request_id: requestId, success: true, data, metadata: { total_processing_time: 0.5 } } });
  }

  error(requestId: string | null, code: string, message = code, details: Json = {}): void {
    this.send({ type: 'error', error: { request_id: requestId, code, message, details } });
  }

  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }

  /** Drops the TCP connection without a close frame (the client sees 1006). */
  drop(): void {
    this.ws.terminate();
  }
}

export class FakeServer {
  private readonly inbox = new Inbox<FakeConn>();
  readonly connections: FakeConn[] = [];
  /** Runs for every new connection before tests see it (e.g. an auto-responder). */
  onConnection: ((c: FakeConn) => void) | undefined;

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    wss.on('connection', (ws, req) => {
      const c = new FakeConn(ws, req.url ?? '/');
      this.connections.push(c);
      this.onConnection?.(c);
      this.inbox.push(c);
    });
  }

  static start(port = 0): Promise<FakeServer> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port });
      wss.once('error', reject);
      wss.once('listening', () => resolve(new FakeServer(wss, (wss.address() as AddressInfo).port)));
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/production`;
  }

  /** The next connection the client opens. */
  nextConnection(timeoutMs = DEFAULT_WAIT_MS): Promise<FakeConn> {
    return this.inbox.take(() => true, timeoutMs, 'a connection');
  }

  /** Stops listening and drops every connection. */
  stop(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
