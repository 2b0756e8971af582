import { canonicalShop } from './shop-name.js'

/**
 * Shopify signs only the body of a webhook: the topic and shop headers are the sender's word. A delivery is taken
 * only when its body vouches for them: the body has the topic's shape, and where the body names a shop, it is the
 * header's. Product payloads name no shop; their product is read back from the header's shop with that shop's own
 * token, so a product body sent under another shop changes nothing there.
 */
export type Vouched =
  | { topic: 'products/create' | 'products/update' | 'products/delete', productId: string, updatedAt: Date }
  | { topic: 'app/uninstalled' | 'shop/redact' | 'customers/data_request' | 'customers/redact' }

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const SHOP_FIELDS = ['myshopify_domain', 'shop_domain', 'domain'] as const

function productId (payload: Record<string, unknown>): string | undefined {
  const id = payload.id
  const text = typeof id === 'number' && Number.isSafeInteger(id) && id > 0
    ? String(id)
    : typeof id === 'string' && /^[1-9][0-9]{0,19}$/.test(id) ? id : undefined
  if (text === undefined) return undefined
  const gid = payload.admin_graphql_api_id
  return gid === undefined || gid === `gid://shopify/Product/${text}` ? text : undefined
}

/** What the delivery may do, or undefined when its body does not vouch for its headers. */
export function vouchedDelivery (topic: string, shop: string, payload: unknown): Vouched | undefined {
  if (!isObject(payload)) return undefined
  const namesShop = (field: typeof SHOP_FIELDS[number]) => canonicalShop(payload[field]) === shop
  switch (topic) {
    case 'products/create':
    case 'products/update':
    case 'products/delete': {
      if (SHOP_FIELDS.some(field => field in payload) || 'customer' in payload) return undefined
      const id = productId(payload)
      if (id === undefined) return undefined
      const updatedAt = new Date(typeof payload.updated_at === 'string' ? payload.updated_at : 0)
      return { topic, productId: id, updatedAt: Number.isNaN(updatedAt.getTime()) ? new Date(0) : updatedAt }
    }
    case 'app/uninstalled':
      return namesShop('myshopify_domain') && !('customer' in payload) ? { topic } : undefined
    case 'shop/redact':
      return namesShop('shop_domain') && !('customer' in payload) && !('data_request' in payload) ? { topic } : undefined
    case 'customers/data_request':
      return namesShop('shop_domain') && isObject(payload.customer) && isObject(payload.data_request) ? { topic } : undefined
    case 'customers/redact':
      return namesShop('shop_domain') && isObject(payload.customer) && !('data_request' in payload) ? { topic } : undefined
    default:
      return undefined
  }
}
