import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto'

/** What a link the service sends names: where it leads, whose conversation it was sent in, and for what. */
export interface ClickClaims {
  /** the destination: a product page, a cart or discount link on the shop */
  destination: string
  pageId: string
  psid: string
  /** the campaign the link was sent by; absent for a reply */
  campaignId?: string
  /** expiry, seconds since the epoch */
  exp: number
}

export const CLICK_TOKEN_DAYS = 30
const SIGNING_DOMAIN = 'click-token/v1.'
const MAX_TOKEN_LENGTH = 1500
const SHAPE = /^[A-Za-z0-9_-]{20,1400}\.[A-Za-z0-9_-]{43}$/

const sign = (key: KeyObject, payload: string) => createHmac('sha256', key).update(SIGNING_DOMAIN).update(payload).digest()

/** Whether `signature` is `sign(key, payload)` for one of `keys`, compared in constant time. */
function signedByOneOf (keys: KeyObject[], sign: (key: KeyObject, payload: string) => Buffer, payload: string, signature: string): boolean {
  const given = Buffer.from(signature, 'base64url')
  return keys.some(key => {
    const expected = sign(key, payload)
    return expected.length === given.length && timingSafeEqual(expected, given)
  })
}

/** A link token: base64url JSON of the claims, a dot, and its HMAC-SHA-256 under the first signing key. */
export function issueClickToken (keys: KeyObject[], claims: Omit<ClickClaims, 'exp'>, nowSeconds: number): string {
  const exp = nowSeconds + CLICK_TOKEN_DAYS * 86_400
  const body: Record<string, string | number> = { d: claims.destination, p: claims.pageId, u: claims.psid, e: exp }
  if (claims.campaignId !== undefined) body.c = claims.campaignId
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url')
  return `${payload}.${sign(keys[0]!, payload).toString('base64url')}`
}

/** The claims of a token signed by one of `keys` and not expired; undefined for anything else. */
export function verifyClickToken (keys: KeyObject[], token: string, nowSeconds: number): ClickClaims | undefined {
  if (token.length > MAX_TOKEN_LENGTH || !SHAPE.test(token)) return undefined
  const [payload, signature] = token.split('.') as [string, string]
  if (!signedByOneOf(keys, sign, payload, signature)) return undefined
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  const { d, p, u, c, e } = body as Record<string, unknown>
  if (typeof d !== 'string' || typeof p !== 'string' || typeof u !== 'string' || typeof e !== 'number') return undefined
  if (c !== undefined && typeof c !== 'string') return undefined
  if (e <= nowSeconds) return undefined
  return { destination: d, pageId: p, psid: u, exp: e, ...(c === undefined ? {} : { campaignId: c }) }
}

/** The cart attribute Shopify copies to the order's note attributes: how an order finds its conversation. */
export const ORDER_REF_ATTRIBUTE = 'msb_ref'

/** Whose order it is, as a cart attribute carries it to the order: the conversation and the campaign. */
export interface OrderRef { pageId: string, psid: string, campaignId?: string }

const REF_DOMAIN = 'order-ref/v1.'
const REF_SHAPE = /^[A-Za-z0-9_-]{10,200}\.[A-Za-z0-9_-]{22}$/
const refSignature = (key: KeyObject, payload: string) =>
  createHmac('sha256', key).update(REF_DOMAIN).update(payload).digest().subarray(0, 16)

/** A short signed reference for a cart attribute (Shopify copies it to the order's note attributes). */
export function issueOrderRef (keys: KeyObject[], ref: OrderRef): string {
  const payload = Buffer.from([ref.pageId, ref.psid, ref.campaignId ?? ''].join(':')).toString('base64url')
  return `${payload}.${refSignature(keys[0]!, payload).toString('base64url')}`
}

/** The conversation and campaign of a reference signed by one of `keys`; undefined for anything else. */
export function verifyOrderRef (keys: KeyObject[], value: string): OrderRef | undefined {
  if (!REF_SHAPE.test(value)) return undefined
  const [payload, signature] = value.split('.') as [string, string]
  if (!signedByOneOf(keys, refSignature, payload, signature)) return undefined
  const [pageId, psid, campaignId] = Buffer.from(payload, 'base64url').toString('utf8').split(':')
  if (!/^\d{1,32}$/.test(pageId ?? '') || !/^\d{1,32}$/.test(psid ?? '') || !/^\d{0,18}$/.test(campaignId ?? '')) return undefined
  return { pageId: pageId!, psid: psid!, ...(campaignId === '' || campaignId === undefined ? {} : { campaignId }) }
}
