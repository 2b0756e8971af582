/**
 * The signed payload of a state token, version 1, in bytes (a third of the JSON it replaced, parsed without
 * a JSON parser):
 *   0 version = 1 | 1 kind | 2-5 issued-at | 6-9 expiry (uint32 BE, seconds) | 10-25 nonce | 26 flags
 *   [32 bytes binding, when flags & 1] [uint32 link expiry, when flags & 2] [shop: 1 length byte + ASCII, when
 *   flags & 4] | workspace (ASCII, the rest; empty only beside a shop: a Shopify install started from Shopify)
 */
export const TOKEN_KINDS = ['connect', 'facebook', 'shopify'] as const
export type TokenKind = typeof TOKEN_KINDS[number]

export const WORKSPACE_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$'
const WORKSPACE = new RegExp(WORKSPACE_PATTERN)
const SHOP = /^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$/

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

export function encodeClaims (claims: Claims): Buffer {
  const binding = claims.binding === undefined ? undefined : Buffer.from(claims.binding, 'base64url')
  if (binding !== undefined && binding.length !== 32) throw new Error('binding must be 32 bytes')
  if (claims.shop !== undefined && !SHOP.test(claims.shop)) throw new Error('invalid shop')
  if (!WORKSPACE.test(claims.workspace) && !(claims.workspace === '' && claims.shop !== undefined)) throw new Error('invalid workspace')
  for (const time of [claims.iat, claims.exp, claims.linkExp ?? 0]) {
    if (!Number.isInteger(time) || time < 0 || time > MAX_UINT32) throw new Error('times must be uint32 seconds')
  }
  const shopBytes = claims.shop === undefined ? 0 : 1 + claims.shop.length
  const out = Buffer.alloc(HEADER + (binding === undefined ? 0 : 32) + (claims.linkExp === undefined ? 0 : 4) + shopBytes + claims.workspace.length)
  out[0] = VERSION
  out[1] = TOKEN_KINDS.indexOf(claims.kind)
  out.writeUInt32BE(claims.iat, 2)
  out.writeUInt32BE(claims.exp, 6)
  Buffer.from(claims.nonce, 'base64url').copy(out, 10, 0, 16)
  out[26] = (binding === undefined ? 0 : HAS_BINDING) | (claims.linkExp === undefined ? 0 : HAS_LINK_EXP) | (claims.shop === undefined ? 0 : HAS_SHOP)
  let at = HEADER
  if (binding !== undefined) at += binding.copy(out, at)
  if (claims.linkExp !== undefined) at = out.writeUInt32BE(claims.linkExp, at)
  if (claims.shop !== undefined) {
    out[at++] = claims.shop.length
    at += out.write(claims.shop, at, 'latin1')
  }
  out.write(claims.workspace, at, 'latin1')
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
    if (bytes.length < at + 1 + length || !SHOP.test(claims.shop)) return undefined
    at += 1 + length
  }
  claims.workspace = bytes.toString('latin1', at)
  return WORKSPACE.test(claims.workspace) || (claims.workspace === '' && claims.shop !== undefined) ? claims : undefined
}
