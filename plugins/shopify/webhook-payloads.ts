import { ORDER_REF_ATTRIBUTE } from '../tokens/click-token.js'
import { canonicalShop } from './shop-name.js'

/**
 * Shopify signs only the body of a webhook: the topic and shop headers are the sender's word. A delivery is taken
 * only when its body vouches for them: the body has the topic's shape, and where the body names a shop, it is the
 * header's. Product payloads name no shop; their product is read back from the header's shop with that shop's own
 * token, so a product body sent under another shop changes nothing there.
 */
export type Vouched =
  | { topic: 'products/create' | 'products/update' | 'products/delete', productId: string, updatedAt: Date }
  | { topic: 'app/uninstalled' | 'shop/redact' | 'customers/data_request' }
  /** orders_to_redact: the orders whose attribution is erased */
  | { topic: 'customers/redact', orderIds: string[] }
  /** only what attribution needs: the order's id, total, currency, time, and the reference its cart carried */
  | { topic: 'orders/create', orderId: string, total: string, currency: string, at: Date, ref: string | undefined }

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
    case 'customers/redact': {
      if (!namesShop('shop_domain') || !isObject(payload.customer) || 'data_request' in payload) return undefined
      const orders = Array.isArray(payload.orders_to_redact) ? payload.orders_to_redact : []
      return { topic, orderIds: orders.filter(id => Number.isSafeInteger(id) || /^[1-9][0-9]{0,19}$/.test(String(id))).map(String) }
    }
    case 'orders/create':
      return orderOf(payload)
    default:
      return undefined
  }
}

function orderOf (payload: Record<string, unknown>): Vouched | undefined {
  const id = payload.id
  const orderId = typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? String(id) : undefined
  const total = typeof payload.total_price === 'string' && /^\d{1,12}(\.\d{1,4})?$/.test(payload.total_price) ? payload.total_price : undefined
  const currency = typeof payload.currency === 'string' && /^[A-Z]{3}$/.test(payload.currency) ? payload.currency : undefined
  const at = new Date(typeof payload.created_at === 'string' ? payload.created_at : Number.NaN)
  if (orderId === undefined || total === undefined || currency === undefined || Number.isNaN(at.getTime())) return undefined
  const attributes = Array.isArray(payload.note_attributes) ? payload.note_attributes : []
  const ref = attributes.find(entry => isObject(entry) && entry.name === ORDER_REF_ATTRIBUTE && typeof entry.value === 'string')
  return { topic: 'orders/create', orderId, total, currency, at, ref: (ref as { value?: string } | undefined)?.value }
}

/**
 * What is kept of a delivery until it is processed: an order only as attribution needs it (Shopify's protected
 * customer data: no name, e-mail, address or phone is ever stored); anything else as it came.
 */
export function keptBody (vouched: Vouched, body: string): string {
  if (vouched.topic !== 'orders/create') return body
  const { orderId, total, currency, at, ref } = vouched
  return JSON.stringify({
    id: Number(orderId),
    total_price: total,
    currency,
    created_at: at.toISOString(),
    note_attributes: ref === undefined ? [] : [{ name: ORDER_REF_ATTRIBUTE, value: ref }]
  })
}
