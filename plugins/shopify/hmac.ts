import { createHmac, timingSafeEqual } from 'node:crypto'

const HEX_DIGEST = /^[0-9a-f]{64}$/
// A SHA-256 digest in canonical base64: 43 characters, the last with its two spare bits zero, then one pad.
const BASE64_DIGEST = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/

const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2).replaceAll('+', '%20')

/**
 * What Shopify signs in a query: every parameter except `hmac` and `signature`, sorted by name, `name=value`
 * joined with `&`, values percent-encoded with `%20` for spaces. Unknown parameters are signed too.
 */
export function signedQueryMessage (params: Array<[string, string]>): string {
  return params
    .filter(([name]) => name !== 'hmac' && name !== 'signature')
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([name, value]) => `${name}=${encode(value)}`)
    .join('&')
}

/** The query's `hmac` (hex) verifies with one of `secrets`; a parameter given twice never verifies. */
export function queryHmacMatches (secrets: string[], params: Array<[string, string]>): boolean {
  const names = params.map(([name]) => name)
  if (new Set(names).size !== names.length) return false
  const hmac = params.find(([name]) => name === 'hmac')?.[1]
  if (hmac === undefined || !HEX_DIGEST.test(hmac)) return false
  const given = Buffer.from(hmac, 'hex')
  const message = signedQueryMessage(params)
  return secrets.some(secret => timingSafeEqual(given, createHmac('sha256', secret).update(message).digest()))
}

/** `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the exact raw body with one of `secrets`. */
export function webhookHmacMatches (secrets: string[], rawBody: Buffer, header: unknown): boolean {
  if (typeof header !== 'string' || !BASE64_DIGEST.test(header)) return false
  const given = Buffer.from(header, 'base64')
  return secrets.some(secret => timingSafeEqual(given, createHmac('sha256', secret).update(rawBody).digest()))
}

const MAX_CLOCK_SKEW_SECONDS = 30

/**
 * A request Shopify redirected here: its HMAC verifies, and its `timestamp` is no older than `maxAgeSeconds` and
 * not ahead of `nowSeconds` by more than a small skew.
 */
export function checkSignedRedirect (
  secrets: string[], params: Array<[string, string]>, nowSeconds: number, maxAgeSeconds: number
): 'ok' | 'signature' | 'expired' {
  if (!queryHmacMatches(secrets, params)) return 'signature'
  const timestamp = Number(params.find(([name]) => name === 'timestamp')?.[1])
  const fresh = Number.isInteger(timestamp) && nowSeconds - timestamp <= maxAgeSeconds && timestamp <= nowSeconds + MAX_CLOCK_SKEW_SECONDS
  if (!fresh) return 'expired'
  return 'ok'
}
