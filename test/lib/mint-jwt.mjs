// Mint an HS256 JWT for task_api_user: node mint-jwt.mjs SECRET SUB [TTL_SECONDS]
// Shared by scripts/dev-token.sh and the HTTP tests (which import mintJwt).
import { createHmac, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function mintJwt(secret, claims, { header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const head = b64url(JSON.stringify(header));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function userToken(secret, sub, ttl = 3600) {
  const now = Math.floor(Date.now() / 1000);
  return mintJwt(secret, { sub, role: 'task_api_user', iat: now, exp: now + ttl, jti: randomUUID() });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [secret, sub, ttl] = process.argv.slice(2);
  process.stdout.write(userToken(secret, sub, ttl ? Number(ttl) : 3600) + '\n');
}
