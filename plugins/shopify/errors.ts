import createError from '@fastify/error'
import { upstreamErrors } from '../core/errors.js'

export const ShopifySignatureError = createError('MSB_SHOPIFY_SIGNATURE',
  'This request does not carry a valid Shopify signature. Start again from Shopify or from your connect link.', 400)
export const ShopifyEntryError = createError('MSB_SHOPIFY_ENTRY',
  'Open this page from your connect link or from the Shopify admin.', 403)
export const ShopifyExpiredError = createError('MSB_SHOPIFY_EXPIRED',
  'This Shopify sign-in is invalid or has expired. Start again from Shopify or from your connect link.', 400)
export const ShopifyBrowserError = createError('MSB_SHOPIFY_BROWSER',
  'This Shopify sign-in was started in another browser or has already been used. Start again.', 403)
export const ShopifyCodeRejectedError = createError('MSB_SHOPIFY_CODE_REJECTED',
  'Shopify did not accept this sign-in: it expired or was already used. Start again.', 400)
export const ShopifyScopesError = createError('MSB_SHOPIFY_SCOPES',
  'The app needs every permission it asked for. Approve them all, then connect your store again.', 403)
export const { Failed: ShopifyFailedError, TimedOut: ShopifyTimeoutError } = upstreamErrors('SHOPIFY', 'Shopify')
