// Test harness for the console's browser tests: starts the real build/streamer on a
// free loopback port with a fresh data dir, mints tokens with its `token` command,
// opens raw WebSocket clients (Node's WebSocket; run node with
// --experimental-websocket on Node 20), and launches Debian's /usr/bin/chromium
// headless through playwright-core (never a downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BINARY = process.env.STREAMER_BIN || path.join(ROOT, 'build', 'streamer');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SECRET = 'browser-test-secret-please-change';

// The flags this machine needs: no sandbox as root, and no background network
// (the only network here is loopback).
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export class Server {
  /** Starts `streamer serve` with the flags the e2e tests use, plus `extra`. */
  static async start(extra = []) {
    const s = new Server();
    s.dataDir = mkdtempSync(path.join(os.tmpdir(), 'streamer-console-'));
    s.port = await freePort();
    s.url = `http://127.0.0.1:${s.port}`;
    s.logPath = path.join(s.dataDir, 'server.log');
    const log = openSync(s.logPath, 'w');
    s.proc = spawn(BINARY, ['serve', '--listen', `127.0.0.1:${s.port}`, '--data-dir', s.dataDir,
      '--jwt-secret', SECRET, '--public-url', s.url, '--enable-delay', ...extra],
    { stdio: ['ignore', log, log] });
    await s.waitReady();
    return s;
  }

  async waitReady(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`server exited early:\n${this.log()}`);
      try {
        if ((await fetch(`${this.url}/readyz`)).status === 200) return;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`server did not become ready:\n${this.log()}`);
  }

  log() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  /** A token for (user, tenant) with `permissions`, signed with `secret`. */
  token(user, tenant, permissions = ['read', 'write'], secret = SECRET) {
    return execFileSync(BINARY, ['token', '--jwt-secret', secret, '--sub', user, '--tenant', tenant,
      '--permissions', permissions.join(','), '--ttl', '3600'], { encoding: 'utf8' }).trim();
  }

  /** Seeds the demo sales dataset of `tenant` (for generate_report). */
  seed(tenant, rows = 2000) {
    execFileSync(BINARY, ['seed-data', '--data-dir', this.dataDir, '--tenant', tenant, '--rows', String(rows)],
      { stdio: 'ignore', timeout: 120000 });
  }

  /** SIGTERM, then SIGKILL after 10 s; removes the data dir. */
  async stop() {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A raw WebSocket client ("another client" than the console). */
export class WsClient {
  static open(server, token) {
    return new Promise((resolve, reject) => {
      const c = new WsClient();
      c.messages = [];
      c.waiters = [];
      c.ws = new WebSocket(`ws://127.0.0.1:${server.port}/production?Authorization=${token}`);
      c.ws.onmessage = (ev) => {
        const msg = JSON.parse(ev.data);
        c.messages.push(msg);
        c.waiters = c.waiters.filter((w) => !(w.pred(msg) && (w.resolve(msg), true)));
      };
      c.ws.onopen = () => resolve(c);
      c.ws.onerror = () => reject(new Error('websocket error'));
    });
  }

  send(id, action, payload) {
    this.ws.send(JSON.stringify({ id, action, payload }));
  }

  /** The first message (already received or later) for which pred holds. */
  next(pred, timeoutMs = 15000) {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such message in time')), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  close() {
    this.ws.close();
  }
}

/** Headless Debian Chromium; playwright gives each launch a fresh user-data-dir. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

// Every wait of a page is bounded by this (a failing run still ends in minutes).
export const STEP_TIMEOUT_MS = 15000;

/** A new page whose waits give up after STEP_TIMEOUT_MS. */
export async function newPage(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  return page;
}

/** Opens the console in a new page and signs in with `token`; returns the page. */
export async function signedInPage(browser, server, token, hash = '') {
  const page = await newPage(browser);
  await page.goto(`${server.url}/console/${hash}`);
  await page.getByLabel('Token (JWT)').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}
