import createError from '@fastify/error'

// Codes starting with MSB_ carry messages written for the person who sees them, 5xx included.
export const PUBLIC_CODE_PREFIX = 'MSB_'

/** The 502 and 504 of an upstream (Facebook, Shopify), in the same words for each. */
export function upstreamErrors (code: string, provider: string) {
  return {
    Failed: createError(`MSB_${code}_FAILED`, `${provider} did not answer as expected. Please try again in a moment.`, 502),
    TimedOut: createError(`MSB_${code}_TIMEOUT`, `${provider} took too long to answer. Please try again in a moment.`, 504)
  }
}

export const InvalidLinkError = createError('MSB_INVALID_LINK',
  'This connect link is invalid or has expired. Ask the person who sent it for a new link.', 403)
export const DatabaseUnavailableError = createError('MSB_STORE_UNAVAILABLE',
  'The service cannot reach its database right now. Please try again in a moment.', 503)
export const ShopInvalidError = createError('MSB_SHOPIFY_SHOP_INVALID',
  "Enter your store's address, like your-store.myshopify.com.", 400)
