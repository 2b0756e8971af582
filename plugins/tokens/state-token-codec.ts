import { SHOP_DOMAIN } from '../core/shop-domain.js'

/**
 * The signed payload of a state token, version 1, in bytes (a third of the JSON it replaced, parsed without
 * a JSON parser):
 *   0 version = 1 | 1 kind | 2-5 issued-at | 6-9 expiry (uint32 BE, seconds) | 10-25 nonce | 26 flags
 *   [32 bytes binding, when flags & 1] [uint32 link expiry, when flags & 2] [shop: 1 length byte + ASCII, when
 *   flags & 4] | workspace (ASCII, the rest; empty only beside a shop: a Shopify install started from Shopify)
 */
export const TOKEN_KINDS = ['connect', 'facebook', 'shopify', 'console'] as const
export type TokenKind = typeof TOKEN_KINDS[number]

export const WORKSPACE_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$'
const WORKSPACE = new RegExp(WORKSPACE_PATTERN)

export interface Claims {
  kind: TokenKind
  workspace: string
  iat: number
  exp: number
  /** 128 random bits, base64url */
  nonce: string
  /** base64url SHA-256 of the browser's binding secret */
  binding?: string
  linkExp?: number
  /** the Shopify shop the flow is for, `name.myshopify.com` */
  shop?: string
}

const VERSION = 1
const HEADER = 27
const HAS_BINDING = 1
const HAS_LINK_EXP = 2
const HAS_SHOP = 4
const MAX_UINT32 = 0xffff_ffff
// base64url lengths of the 16-byte nonce and the 32-byte binding
const NONCE_TEXT = 22
const BINDING_TEXT = 43

export function encodeClaims (claims: Claims): Buffer {
  const { binding, linkExp, shop, workspace } = claims
  if (claims.nonce.length !== NONCE_TEXT) throw new Error('nonce must be 16 bytes')
  if (binding !== undefined && binding.length !== BINDING_TEXT) throw new Error('binding must be 32 bytes')
  if (shop !== undefined && !SHOP_DOMAIN.test(shop)) throw new Error('invalid shop')
  if (!WORKSPACE.test(workspace) && !(workspace === '' && shop !== undefined)) throw new Error('invalid workspace')
  for (const time of [claims.iat, claims.exp, linkExp ?? 0]) {
    if (!Number.isInteger(time) || time < 0 || time > MAX_UINT32) throw new Error('times must be uint32 seconds')
  }
  const length = HEADER + (binding === undefined ? 0 : 32) + (linkExp === undefined ? 0 : 4) +
    (shop === undefined ? 0 : 1 + shop.length) + workspace.length
  // From Buffer's pool, not zeroed: every byte is written below, and a short write throws.
  const out = Buffer.allocUnsafe(length)
  out[0] = VERSION
  out[1] = TOKEN_KINDS.indexOf(claims.kind)
  out.writeUInt32BE(claims.iat, 2)
  out.writeUInt32BE(claims.exp, 6)
  if (out.write(claims.nonce, 10, 16, 'base64url') !== 16) throw new Error('nonce must be 16 bytes')
  out[26] = (binding === undefined ? 0 : HAS_BINDING) | (linkExp === undefined ? 0 : HAS_LINK_EXP) | (shop === undefined ? 0 : HAS_SHOP)
  let at = HEADER
  if (binding !== undefined) {
    if (out.write(binding, at, 32, 'base64url') !== 32) throw new Error('binding must be 32 bytes')
    at += 32
  }
  if (linkExp !== undefined) at = out.writeUInt32BE(linkExp, at)
  if (shop !== undefined) {
    out[at++] = shop.length
    at += out.write(shop, at, 'latin1')
  }
  at += out.write(workspace, at, 'latin1')
  if (at !== length) throw new Error('claims did not fill the payload')
  return out
}

/** The claims, or undefined for anything that is not exactly a version-1 payload. */
export function decodeClaims (bytes: Buffer): Claims | undefined {
  if (bytes.length < HEADER + 1 || bytes[0] !== VERSION) return undefined
  const kind = TOKEN_KINDS[bytes[1]!]
  const flags = bytes[26]!
  if (kind === undefined || (flags & ~(HAS_BINDING | HAS_LINK_EXP | HAS_SHOP)) !== 0) return undefined
  let at = HEADER
  const claims: Claims = {
    kind,
    workspace: '',
    iat: bytes.readUInt32BE(2),
    exp: bytes.readUInt32BE(6),
    nonce: bytes.toString('base64url', 10, 26)
  }
  if (flags & HAS_BINDING) {
    if (bytes.length < at + 32) return undefined
    claims.binding = bytes.toString('base64url', at, at + 32)
    at += 32
  }
  if (flags & HAS_LINK_EXP) {
    if (bytes.length < at + 4) return undefined
    claims.linkExp = bytes.readUInt32BE(at)
    at += 4
  }
  if (flags & HAS_SHOP) {
    const length = bytes[at] ?? 0
    claims.shop = bytes.toString('latin1', at + 1, at + 1 + length)
    if (bytes.length < at + 1 + length || !SHOP_DOMAIN.test(claims.shop)) return undefined
    at += 1 + length
  }
  claims.workspace = bytes.toString('latin1', at)
  return WORKSPACE.test(claims.workspace) || (claims.workspace === '' && claims.shop !== undefined) ? claims : undefined
}
