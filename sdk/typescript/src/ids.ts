/**
 * Request ids as the API reference recommends: `${Date.now()}-${9 random base-36 chars}`.
 * Uses the platform's CSPRNG when there is one (Node ≥ 20 and browsers have
 * `crypto.getRandomValues`), else Math.random.
 */
export function generateRequestId(): string {
  return `${Date.now()}-${randomBase36(9)}`;
}

function randomBase36(length: number): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const bytes = new Uint8Array(length);
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let out = '';
  // 252 = 7 * 36: values above it would bias the alphabet; fold them with Math.random.
  for (const b of bytes) out += alphabet[b < 252 ? b % 36 : Math.floor(Math.random() * 36)];
  return out;
}
