import { createHmac } from 'node:crypto'

/** A signed_request as Meta builds it. */
export function signedRequest (secret: string, payload: object, algorithm = 'HMAC-SHA256'): string {
  const body = Buffer.from(JSON.stringify({ algorithm, ...payload })).toString('base64url')
  return `${createHmac('sha256', secret).update(body).digest('base64url')}.${body}`
}
