/**
 * The README's quick-start example, run as a program that imports the package by name,
 * against the fake server: it must work as written apart from the endpoint and token.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { FakeServer } from './fake-server.js';
import { PKG_ROOT } from './real-server.js';

it("the README's example runs against a fake server", async (t) => {
  const server = await FakeServer.start();
  server.onConnection = (c) => {
    c.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.action === 'health') c.success(m.id, { status: 'healthy', timestamp: new Date().toISOString(), version: '1.2.3' });
      else if (m.action === 'generate_report') {
        assert.deepEqual(m.payload, { start_date: '2024-01-01', end_date: '2024-01-31', format: 'pdf', report_type: 'monthly' });
        c.queued(m.id, 120);
        c.progress(m.id, 30, 'Querying data from multiple sources');
        c.progress(m.id, 100, 'Uploading and finalizing');
        c.result(m.id, { url: 'http://127.0.0.1/artifacts/report.pdf', records: 12500, format: 'pdf' });
      }
    });
  };
  const dir = mkdtempSync(join(tmpdir(), 'streamer-readme-'));
  t.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  });
  const readme = readFileSync(join(PKG_ROOT, 'README.md'), 'utf8');
  const block = /```typescript\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has a typescript example');
  const code = block.replace("'wss://streamer.example.com/production'", JSON.stringify(server.url)).replace("'your-jwt-token'", "'tok'");
  assert.notEqual(code, block);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(PKG_ROOT, join(dir, 'node_modules', 'streamer-client'));
  writeFileSync(join(dir, 'example.mjs'), `${code}\nconsole.log(JSON.stringify({ healthResult, reportResult }));\nawait client.close();\n`);
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'example.mjs')], { timeout: 20_000 });
  const lines = stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, 2), ['30% - Querying data from multiple sources', '100% - Uploading and finalizing']);
  const out = JSON.parse(lines.at(-1)!);
  assert.equal(out.healthResult.status, 'healthy');
  assert.equal(out.reportResult.records, 12500);
});
