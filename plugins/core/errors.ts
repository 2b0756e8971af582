import createError from '@fastify/error'

// Codes starting with MSB_ carry messages written for the person who sees them, 5xx included.
export const PUBLIC_CODE_PREFIX = 'MSB_'

export const InvalidLinkError = createError('MSB_INVALID_LINK',
  'This connect link is invalid or has expired. Ask the person who sent it for a new link.', 403)
export const InvalidStateError = createError('MSB_INVALID_STATE',
  'This sign-in attempt is invalid or has expired. Start again from your connect link.', 400)
export const BrowserMismatchError = createError('MSB_BROWSER_MISMATCH',
  'This sign-in was started in another browser or has already been used. Start again from your connect link.', 403)
export const LoginCancelledError = createError('MSB_LOGIN_CANCELLED',
  'Facebook Login was cancelled, so nothing was connected. Start again from your connect link when you are ready.', 403)
export const CodeRejectedError = createError('MSB_CODE_REJECTED',
  'Facebook did not accept this sign-in: it expired or was already used. Start again from your connect link.', 400)
export const UpstreamFailedError = createError('MSB_UPSTREAM_FAILED',
  'Facebook did not answer as expected. Please try again in a moment.', 502)
export const UpstreamTimeoutError = createError('MSB_UPSTREAM_TIMEOUT',
  'Facebook took too long to answer. Please try again in a moment.', 504)
export const UnauthorizedError = createError('MSB_UNAUTHORIZED', 'A valid bearer token is required.', 401)
export const PageNotFoundError = createError('MSB_PAGE_NOT_FOUND', 'This Page is not connected to this workspace.', 404)
export const StoreUnavailableError = createError('MSB_STORE_UNAVAILABLE',
  'The service cannot reach its database right now. Please try again in a moment.', 503)
export const ShopInvalidError = createError('MSB_SHOPIFY_SHOP_INVALID',
  "Enter your store's address, like your-store.myshopify.com.", 400)
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
export const ShopifyFailedError = createError('MSB_SHOPIFY_FAILED',
  'Shopify did not answer as expected. Please try again in a moment.', 502)
export const ShopifyTimeoutError = createError('MSB_SHOPIFY_TIMEOUT',
  'Shopify took too long to answer. Please try again in a moment.', 504)
