import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, resolveReconnect } from '../src/backoff.js';
import { closePolicy, errorFromClose, StreamerError } from '../src/errors.js';
import { generateRequestId } from '../src/ids.js';
import { parseServerMessage, utf8Length } from '../src/protocol.js';

describe('ids', () => {
  it('follow the seed format `${Date.now()}-${9 base-36 chars}` and are unique', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateRequestId();
      assert.match(id, /^\d{13}-[0-9a-z]{9}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 10_000);
  });
});

describe('backoff', () => {
  it('defaults to the seed: 5 attempts, at most 2^n seconds', () => {
    const o = resolveReconnect(undefined);
    assert.equal(o.maxAttempts, 5);
    assert.equal(o.jitter, 0.5);
    const noJitter = { ...o, jitter: 0 };
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffDelay(n, noJitter)), [1000, 2000, 4000, 8000, 16000]);
    assert.deepEqual([0, 1, 2].map((n) => backoffDelay(n, o, () => 1)), [1000, 2000, 4000]);
  });

  it('caps at maxDelayMs and keeps jitter within [d·(1−jitter), d]', () => {
    const o = resolveReconnect({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 });
    assert.equal(backoffDelay(10, { ...o, jitter: 0 }), 1000);
    assert.equal(backoffDelay(1, o, () => 0), 100);
    assert.equal(backoffDelay(1, o, () => 1), 200);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(2, o);
      assert.ok(d >= 200 && d <= 400, String(d));
    }
  });
});

describe('error mapping', () => {
  const seedCodes: [string, boolean][] = [
    ['VALIDATION_ERROR', false],
    ['NOT_FOUND', false],
    ['UNAUTHORIZED', false],
    ['INTERNAL_ERROR', true],
    ['TIMEOUT', true],
    ['RATE_LIMITED', true],
    ['INVALID_ACTION', false],
    ['CANCELLED', false],
  ];
  for (const [code, retryable] of seedCodes) {
    it(`maps ${code} (retryable: ${retryable} by default)`, () => {
      const e = StreamerError.fromServer({ request_id: 'r1', code, message: 'm', details: { field: 'x' } });
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'StreamerError');
      assert.equal(e.code, code);
      assert.equal(e.message, 'm');
      assert.equal(e.requestId, 'r1');
      assert.equal(e.retryable, retryable);
      assert.deepEqual(e.details, { field: 'x' });
    });
  }

  it('takes retryable from details when the server says', () => {
    assert.equal(StreamerError.fromServer({ request_id: 'r', code: 'INTERNAL_ERROR', message: '', details: { retryable: false } }).retryable, false);
    assert.equal(StreamerError.fromServer({ request_id: 'r', code: 'NOT_FOUND', message: '', details: { retryable: true } }).retryable, true);
  });

  it('maps an unknown code to INTERNAL_ERROR and keeps the original', () => {
    const e = StreamerError.fromServer({ request_id: null, code: 'SOMETHING_NEW', message: 'x' });
    assert.equal(e.code, 'INTERNAL_ERROR');
    assert.equal(e.details.server_code, 'SOMETHING_NEW');
  });

  it('maps close codes', () => {
    const expired = errorFromClose(4401, '', { request_id: null, code: 'UNAUTHORIZED', message: 'Token expired', details: { reason: 'token_expired' } });
    assert.equal(expired.code, 'UNAUTHORIZED');
    assert.equal(expired.details.reason, 'token_expired');
    assert.equal(expired.closeCode, 4401);
    assert.equal(expired.message, 'Token expired');
    assert.equal(errorFromClose(4403, '').code, 'UNAUTHORIZED');
    const rl = errorFromClose(4429, '', { request_id: null, code: 'RATE_LIMITED', message: 'slow down', details: { retry_after_ms: 500 } });
    assert.equal(rl.code, 'RATE_LIMITED');
    assert.equal(rl.retryable, true);
    assert.equal(rl.details.retry_after_ms, 500);
    const tooBig = errorFromClose(1009, '');
    assert.equal(tooBig.code, 'MESSAGE_TOO_LARGE');
    assert.equal(tooBig.retryable, false);
    for (const code of [1001, 1006, 1012, 1013]) {
      const e = errorFromClose(code, 'bye');
      assert.equal(e.code, 'CONNECTION_FAILED');
      assert.equal(e.retryable, true);
      assert.equal(e.details.close_reason, 'bye');
    }
  });

  it('decides what to do after each close code', () => {
    assert.deepEqual(closePolicy(4401, true), { kind: 'reconnect', delay: 'immediate', refreshToken: true });
    assert.deepEqual(closePolicy(4401, false), { kind: 'fail' });
    assert.deepEqual(closePolicy(4403, true), { kind: 'fail' });
    assert.deepEqual(closePolicy(1001, false), { kind: 'reconnect', delay: 'immediate', refreshToken: false });
    assert.deepEqual(closePolicy(1013, false), { kind: 'reconnect', delay: 'immediate', refreshToken: false });
    for (const code of [1006, 1009, 1012, 4429, 1011, 1000]) {
      assert.deepEqual(closePolicy(code, true), { kind: 'reconnect', delay: 'backoff', refreshToken: false });
    }
  });
});

describe('protocol', () => {
  it('parses the seed envelopes and ignores garbage', () => {
    assert.equal(parseServerMessage('not json'), undefined);
    assert.equal(parseServerMessage('{"type":"response"}'), undefined);
    assert.equal(parseServerMessage('{"type":"nope","nope":{}}'), undefined);
    const m = parseServerMessage('{"type":"error","error":{"request_id":null,"code":"UNAUTHORIZED","message":"x"}}');
    assert.equal(m?.type, 'error');
  });

  it('counts UTF-8 bytes', () => {
    assert.equal(utf8Length('aé€😀'), 1 + 2 + 3 + 4);
  });
});
