import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Meta's `signed_request` (deauthorize and data-deletion callbacks): base64url(HMAC-SHA256(app secret, payload
 * part)) "." base64url(JSON payload). Checked strictly: length and shape first, a canonical 32-byte signature
 * compared in constant time, HMAC-SHA256 only, `issued_at` within the last hour and not from the future.
 */
const SHAPE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\.[A-Za-z0-9_-]{1,4000}$/
const MAX_FUTURE_SKEW_SECONDS = 300
// Meta calls back at once; a request older than this is a replay.
const MAX_AGE_SECONDS = 3600

export type SignedRequestFailure = 'malformed' | 'signature' | 'algorithm' | 'future' | 'expired'
export class SignedRequestError extends Error {
  override name = 'SignedRequestError'
  constructor (readonly reason: SignedRequestFailure) {
    super(`signed_request refused: ${reason}`)
  }
}

export function parseSignedRequest (appSecret: string, value: unknown, nowSeconds: number): { userId: string, issuedAt: number } {
  if (typeof value !== 'string' || value.length > 4100 || !SHAPE.test(value)) throw new SignedRequestError('malformed')
  const [signature, payload] = value.split('.') as [string, string]
  const expected = createHmac('sha256', appSecret).update(payload).digest()
  if (!timingSafeEqual(Buffer.from(signature, 'base64url'), expected)) throw new SignedRequestError('signature')
  let data: { algorithm?: unknown, user_id?: unknown, issued_at?: unknown }
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    throw new SignedRequestError('malformed')
  }
  if (typeof data !== 'object' || data === null) throw new SignedRequestError('malformed')
  if (data.algorithm !== 'HMAC-SHA256') throw new SignedRequestError('algorithm')
  if (typeof data.user_id !== 'string' || !/^[0-9]{1,32}$/.test(data.user_id) || typeof data.issued_at !== 'number') {
    throw new SignedRequestError('malformed')
  }
  if (data.issued_at > nowSeconds + MAX_FUTURE_SKEW_SECONDS) throw new SignedRequestError('future')
  if (data.issued_at < nowSeconds - MAX_AGE_SECONDS) throw new SignedRequestError('expired')
  return { userId: data.user_id, issuedAt: data.issued_at }
}
