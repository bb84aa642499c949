// Mints an HS256 development JWT for the benchmarks when `streamer token` is absent.
//   node mint-token.mjs --secret S [--sub bench] [--tenant bench] [--ttl 7200]
import crypto from 'node:crypto';
import { args } from './protocol.mjs';

const opt = args({ secret: 'bench-secret', sub: 'bench-user', tenant: 'bench-tenant', ttl: '7200' });
const now = Math.floor(Date.now() / 1000);
const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: opt.sub, tenant_id: opt.tenant,
  permissions: ['read', 'write'], iat: now, exp: now + Number(opt.ttl) })}`;
const sig = crypto.createHmac('sha256', opt.secret).update(body).digest('base64url');
process.stdout.write(`${body}.${sig}\n`);
