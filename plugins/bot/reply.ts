import { truncate } from '../core/plain-text.js'
import type { MatchedProduct } from '../store/catalog.js'

/** Meta's limits for the generic template and quick replies (Messenger Platform docs, 2026). */
export const LIMITS = { elements: 10, title: 80, subtitle: 80, buttons: 3, quickReplies: 13, quickReplyTitle: 20, text: 2000 }

export function formatPrice (amount: string, currency: string): string {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(Number(amount))
  } catch {
    return `${amount} ${currency}`
  }
}

export interface Bounds { min?: number, max?: number }

/** Where "Buy now" leads for a variant: its cart permalink, unless a promotion's link applies a discount first. */
export type BuyNowLink = (shop: string, variantId: string) => string
const cartLink: BuyNowLink = (shop, variantId) => `https://${shop}/cart/${variantId}:1`

/** A discount code applied on the way to the cart (Shopify's /discount/{code} link with a redirect). */
export const discountedCartLink = (code: string): BuyNowLink => (shop, variantId) =>
  `https://${shop}/discount/${encodeURIComponent(code)}?redirect=${encodeURIComponent(`/cart/${variantId}:1`)}`

export const productUrl = (shop: string, product: MatchedProduct) => product.url ?? `https://${shop}/products/${encodeURIComponent(product.handle)}`

/** The cheapest available variant within the bounds, for "Buy now". */
function cheapestVariant (product: MatchedProduct, bounds: Bounds) {
  return product.variants
    .filter(variant => variant.available && (bounds.min === undefined || Number(variant.price) >= bounds.min) &&
      (bounds.max === undefined || Number(variant.price) <= bounds.max))
    .sort((a, b) => Number(a.price) - Number(b.price))[0]
}

function subtitle (product: MatchedProduct): string {
  const { min, max, currency } = product.price
  const price = min === max ? formatPrice(min, currency) : `From ${formatPrice(min, currency)}`
  const more = product.vendor !== '' ? product.vendor : product.description.replace(/\s+/g, ' ').trim()
  return truncate(more === '' ? price : `${price} · ${more}`, LIMITS.subtitle)
}

/** One carousel card: title, price, image, the product page, and View / Buy now / More like this. */
export function element (shop: string, product: MatchedProduct, bounds: Bounds, buyNow = cartLink) {
  const page = productUrl(shop, product)
  const variant = cheapestVariant(product, bounds)
  return {
    title: truncate(product.title, LIMITS.title),
    subtitle: subtitle(product),
    ...(product.imageUrl === null ? {} : { image_url: product.imageUrl }),
    default_action: { type: 'web_url', url: page },
    buttons: [
      { type: 'web_url', url: page, title: 'View' },
      ...(variant === undefined ? [] : [{ type: 'web_url', url: buyNow(shop, variant.id), title: 'Buy now' }]),
      { type: 'postback', title: 'More like this', payload: `MORE:${product.id}` }
    ]
  }
}

export function carousel (shop: string, products: MatchedProduct[], bounds: Bounds, buyNow = cartLink) {
  const elements = products.slice(0, LIMITS.elements).map(product => element(shop, product, bounds, buyNow))
  return { attachment: { type: 'template', payload: { template_type: 'generic', elements } } }
}

export interface QuickReply { title: string, payload: string }

export function withQuickReplies (message: Record<string, unknown>, replies: QuickReply[]) {
  if (replies.length === 0) return message
  return {
    ...message,
    quick_replies: replies.slice(0, LIMITS.quickReplies).map(reply => ({
      content_type: 'text', title: truncate(reply.title, LIMITS.quickReplyTitle), payload: reply.payload.slice(0, 1000)
    }))
  }
}

export const TALK_TO_A_PERSON: QuickReply = { title: 'Talk to a person', payload: 'HUMAN' }
