/**
 * The SDK's codes, close-code policy, message types and defaults equal the protocol
 * document (docs/asyncapi.json, generated from docs/asyncapi.yaml by
 * scripts/asyncapi.py): a change on either side that is not made on the other fails here.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { backoffDelay, DEFAULT_RECONNECT } from '../src/backoff.js';
import { CLIENT_DEFAULTS } from '../src/client.js';
import {
  CLIENT_ERROR_CODES,
  CLIENT_SOURCE,
  CloseCodes,
  closePolicy,
  errorFromClose,
  RETRYABLE_BY_DEFAULT,
  SERVER_ERROR_CODES,
  StreamerError,
} from '../src/errors.js';
import { CANCEL_STATUSES, parseServerMessage, REQUEST_STATUSES, SERVER_MESSAGE_TYPES } from '../src/protocol.js';
import { WORKER_EVENT_TYPES, WORKER_SENT_TYPES } from '../src/worker-lane.js';

// Compiled to .test-build/test/: the repository root is four levels up.
const DOCUMENT = new URL('../../../../docs/asyncapi.json', import.meta.url);

interface CloseEntry {
  client: { error_code: string; retryable: boolean; reconnect: 'immediate' | 'backoff' | 'refresh_token' | 'never' };
}
interface AsyncApiDocument {
  components: {
    schemas: Record<string, { enum?: unknown[]; 'x-retryable'?: Record<string, boolean>; properties?: Record<string, { const?: string; enum?: unknown[] }>; oneOf?: { $ref: string }[] }>;
    messages: Record<string, { examples?: { name: string; payload: unknown }[] }>;
  };
  'x-close-codes': Record<string, CloseEntry>;
  'x-client': {
    codes: { code: string; retryable: boolean }[];
    client_source: { details: { source: string } };
    defaults: Record<string, number>;
  };
}

const present = existsSync(DOCUMENT);
const doc: AsyncApiDocument = present ? JSON.parse(readFileSync(DOCUMENT, 'utf8')) : ({} as AsyncApiDocument);
const schemas = present ? doc.components.schemas : {};

describe('the SDK equals docs/asyncapi.json', { skip: present ? false : 'docs/asyncapi.json not found' }, () => {
  it('has the server error codes and the shared client codes', () => {
    assert.deepEqual([...SERVER_ERROR_CODES], schemas.ErrorCode.enum);
    assert.deepEqual([...CLIENT_ERROR_CODES], doc['x-client'].codes.map((c) => c.code));
    assert.equal(CLIENT_SOURCE, doc['x-client'].client_source.details.source);
  });

  it('has the documented retryable defaults', () => {
    const expected: Record<string, boolean> = { ...schemas.ErrorCode['x-retryable'] };
    for (const c of doc['x-client'].codes) expected[c.code] = c.retryable;
    assert.deepEqual({ ...RETRYABLE_BY_DEFAULT }, expected);
  });

  it('maps every documented close code to its error and reconnect policy', () => {
    const named = new Set<number>(Object.values(CloseCodes));
    for (const [text, entry] of Object.entries(doc['x-close-codes'])) {
      const code = Number(text);
      assert.ok(named.has(code), `CloseCodes lacks ${code}`);
      const e = errorFromClose(code, '');
      assert.deepEqual([e.code, e.retryable, e.closeCode], [entry.client.error_code, entry.client.retryable, code], text);
      const withToken = closePolicy(code, true);
      const withoutToken = closePolicy(code, false);
      switch (entry.client.reconnect) {
        case 'never':
          assert.deepEqual(withToken, { kind: 'fail' }, text);
          break;
        case 'refresh_token':
          assert.deepEqual(withToken, { kind: 'reconnect', delay: 'immediate', refreshToken: true }, text);
          assert.deepEqual(withoutToken, { kind: 'fail' }, text);
          break;
        default:
          assert.deepEqual(withToken, { kind: 'reconnect', delay: entry.client.reconnect, refreshToken: false }, text);
      }
    }
  });

  it('has the documented defaults', () => {
    const d = doc['x-client'].defaults;
    assert.deepEqual(
      {
        reconnect_attempts: DEFAULT_RECONNECT.maxAttempts,
        reconnect_base_delay_ms: DEFAULT_RECONNECT.baseDelayMs,
        reconnect_max_delay_ms: DEFAULT_RECONNECT.maxDelayMs,
        reconnect_jitter: DEFAULT_RECONNECT.jitter,
        max_in_flight: CLIENT_DEFAULTS.maxInFlight,
        max_message_bytes: CLIENT_DEFAULTS.maxMessageBytes,
        rate_limit_retries: CLIENT_DEFAULTS.maxRateLimitRetries,
      },
      d,
    );
    for (let n = 0; n < 6; n++) {
      const nominal = Math.min(d.reconnect_max_delay_ms, d.reconnect_base_delay_ms * 2 ** n);
      assert.equal(backoffDelay(n, DEFAULT_RECONNECT, () => 0), Math.round(nominal * (1 - d.reconnect_jitter)));
      assert.equal(backoffDelay(n, DEFAULT_RECONNECT, () => 1), nominal);
    }
  });

  it('knows every server message type, request status and cancel status', () => {
    const types = ['ResponseSuccessMessage', 'ProgressMessage', 'ResultMessage', 'ErrorMessage', 'StatsMessage'].map(
      (name) => schemas[name].properties?.type.const,
    );
    assert.deepEqual([...SERVER_MESSAGE_TYPES], types);
    assert.deepEqual([...REQUEST_STATUSES], schemas.RequestStatus.enum);
    assert.deepEqual([...CANCEL_STATUSES], schemas.CancelResult.properties?.status.enum);
  });

  it('a worker handles every frame type of the worker channel and sends only documented ones', () => {
    const typesOf = (union: string) =>
      (schemas[union]!.oneOf ?? []).map((r) => schemas[r.$ref.split('/').pop()!]!.properties?.type.const);
    assert.deepEqual([...WORKER_EVENT_TYPES], typesOf('WorkerEvent'));
    const documented = new Set(typesOf('WorkerRequest'));
    for (const t of WORKER_SENT_TYPES) assert.ok(documented.has(t), `${t} is a documented worker message`);
  });

  it('parses every documented server message example', () => {
    for (const [name, message] of Object.entries(doc.components.messages)) {
      if (name === 'Request' || name.startsWith('Worker')) continue; // the worker channel: see below
      for (const example of message.examples ?? []) {
        const parsed = parseServerMessage(JSON.stringify(example.payload));
        assert.deepEqual(parsed, example.payload, `${name} example ${example.name}`);
        if (parsed?.type === 'error') {
          const e = StreamerError.fromServer(parsed.error);
          assert.equal(e.code, parsed.error.code);
          assert.equal(e.retryable, parsed.error.details?.retryable);
        }
      }
    }
  });
});
