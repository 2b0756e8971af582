import { SHOP_DOMAIN } from '../core/shop-domain.js'

const ADMIN_URL = /^admin\.shopify\.com\/store\/([a-z0-9][a-z0-9-]{0,62})$/
const ASCII_SPACE_AT_ENDS = /^[ \t\r\n]+|[ \t\r\n]+$/g

/**
 * A shop's canonical `name.myshopify.com`, from that or from `admin.shopify.com/store/name`; undefined for
 * anything else. Only ASCII is accepted and only A-Z are lower-cased: no Unicode case mapping or normalisation,
 * so no other spelling can turn into a valid name.
 */
export function canonicalShop (input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined
  const trimmed = input.replace(ASCII_SPACE_AT_ENDS, '')
  if (!/^[\x21-\x7e]+$/.test(trimmed)) return undefined
  const lower = trimmed.replace(/[A-Z]/g, letter => letter.toLowerCase())
  const admin = ADMIN_URL.exec(lower)
  const shop = admin === null ? lower : `${admin[1]}.myshopify.com`
  return SHOP_DOMAIN.test(shop) ? shop : undefined
}
