// Mint HS256 JWTs with the cluster's secret, for the HTTP tests' crafted
// tokens (real tokens come from task_api.start_session()).
import { createHmac, randomUUID } from 'node:crypto';

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
