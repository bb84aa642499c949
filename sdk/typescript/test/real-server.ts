/**
 * Starts the real `streamer` binary for integration tests (like tests/e2e/conftest.py):
 * a free loopback port, a fresh data dir, readiness through GET /readyz, tokens minted
 * with `streamer token`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** sdk/typescript (tests run compiled from sdk/typescript/.test-build/test). */
export const PKG_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const BINARY = process.env.STREAMER_BIN ?? resolve(PKG_ROOT, '../../build/streamer');
export const SECRET = 'sdk-ts-integration-secret';
export const TENANT = 'sdk-ts-tenant';

export const binaryMissing = (): string | false =>
  existsSync(BINARY) ? false : `streamer binary not found at ${BINARY}: build it (cmake --build build) or set STREAMER_BIN`;

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

export function mintToken(opts: { sub?: string; tenant?: string; permissions?: string[]; ttl?: number; secret?: string; actions?: string[] } = {}): string {
  const args = [
    'token',
    '--jwt-secret', opts.secret ?? SECRET,
    '--sub', opts.sub ?? 'sdk-ts-user',
    '--tenant', opts.tenant ?? TENANT,
    '--permissions', (opts.permissions ?? ['read', 'write']).join(','),
    '--ttl', String(opts.ttl ?? 3600),
    ...(opts.actions ? ['--actions', opts.actions.join(',')] : []),
  ];
  return execFileSync(BINARY, args, { encoding: 'utf8' }).trim();
}

/** A token for a remote worker serving `actions` in the test tenant. */
export const mintWorkerToken = (actions: string[]): string => mintToken({ sub: 'sdk-ts-worker', permissions: ['worker'], actions });

/** Server flags for remote-worker tests: a crashed worker's job is claimed again within ~1 s. */
export const WORKER_FLAGS = ['--lease-ttl-ms', '800', '--remote-poll-ms', '100', '--retry-base-ms', '100'];

export class RealServer {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  readonly logPath: string;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly flags: string[],
  ) {
    this.logPath = join(dataDir, `server-${port}.log`);
  }

  /**
   * Starts a server; pass `port`/`dataDir` of a killed one to restart it in place.
   * `seedTenant` first generates the demo sales dataset (for `generate_report`).
   */
  static async start(opts: { port?: number; dataDir?: string; flags?: string[]; seedTenant?: string } = {}): Promise<RealServer> {
    const port = opts.port ?? (await freePort());
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'streamer-sdk-ts-'));
    if (opts.seedTenant) {
      execFileSync(BINARY, ['seed-data', '--data-dir', dataDir, '--tenant', opts.seedTenant, '--rows', '5000'], { stdio: 'ignore', timeout: 120_000 });
    }
    const s = new RealServer(port, dataDir, opts.flags ?? []);
    await s.launch();
    return s;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/production`;
  }

  private async launch(): Promise<void> {
    const log = createWriteStream(this.logPath, { flags: 'a' });
    const args = [
      'serve',
      '--listen', `127.0.0.1:${this.port}`,
      '--data-dir', this.dataDir,
      '--jwt-secret', SECRET,
      '--public-url', `http://127.0.0.1:${this.port}`,
      '--enable-delay',
      ...this.flags,
    ];
    const proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.pipe(log);
    proc.stderr.pipe(log);
    this.proc = proc;
    this.exited = new Promise((res) => proc.once('exit', () => res()));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`streamer exited early (${proc.exitCode}):\n${this.log()}`);
      try {
        const r = await fetch(`http://127.0.0.1:${this.port}/readyz`);
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`streamer did not become ready:\n${this.log()}`);
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** kill -9: a crash, nothing drained. */
  async kill9(): Promise<void> {
    this.proc?.kill('SIGKILL');
    await this.exited;
  }

  /** Restarts on the same port and data dir. */
  async restart(): Promise<void> {
    await this.launch();
  }

  /** SIGTERM, then SIGKILL after 10 s; removes the data dir (KEEP_STREAMER_DATA=1 keeps it, with the log). */
  async stop(keepDataDir = false): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(t);
    }
    if (!keepDataDir && !process.env.KEEP_STREAMER_DATA) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
