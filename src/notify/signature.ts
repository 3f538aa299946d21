import { createHmac } from 'node:crypto';

/** The header a receiver checks: `sha256=<hex HMAC-SHA256(secret, body)>`, over the exact bytes POSTed. */
export const SIGNATURE_HEADER = 'X-Ferry-Signature';

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
