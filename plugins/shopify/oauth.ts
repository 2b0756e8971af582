import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import type { onRequestHookHandler } from 'fastify'
import { csvList } from '../core/config.js'
import { ShopInvalidError } from '../core/errors.js'
import { escapeHtml, renderPage, wantsHtml } from '../core/html.js'
import { bindingCookie } from '../tokens/browser-binding.js'
import { connectPageUrl, verifyConnectLink } from '../tokens/connect-link.js'
import { callbackClaims } from '../tokens/state-token.js'
import { ShopifyCallTimeoutError, ShopifyError } from './client.js'
import {
  ShopifyBrowserError, ShopifyCodeRejectedError, ShopifyEntryError, ShopifyExpiredError, ShopifyFailedError, ShopifyScopesError,
  ShopifySignatureError, ShopifyTimeoutError
} from './errors.js'
import { checkSignedRedirect } from './hmac.js'
import { canonicalShop } from './shop-name.js'

const param = Type.Optional(Type.String({ maxLength: 1024 }))
// Shopify may add parameters of its own; they stay in the query and are covered by its signature.
const InstallQuery = Type.Object({ shop: param, link: param, hmac: param, timestamp: param, host: param })
const CallbackQuery = Type.Object({ shop: param, code: param, state: param, hmac: param, timestamp: param, host: param })

/** The query exactly as sent, as name/value pairs: what Shopify signed, duplicates included. */
const queryPairs = (url: string): Array<[string, string]> => {
  const at = url.indexOf('?')
  return at === -1 ? [] : [...new URLSearchParams(url.slice(at + 1))]
}

/** Shopify install and OAuth callback: the same signed, browser-bound state as Facebook Login, provider `shopify`. */
const shopifyOauth: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, stateToken, shopify, store } = fastify
  const binding = bindingCookie({ secure: config.secureCookies, maxAgeSeconds: config.STATE_TOKEN_TTL_SECONDS })
  const secrets = [config.SHOPIFY_API_SECRET, config.SHOPIFY_API_SECRET_PREVIOUS].filter(secret => secret !== '')
  const requiredScopes = csvList(config.SHOPIFY_SCOPES)

  fastify.get('/install', { schema: { querystring: InstallQuery }, onRequest: fastify.clientRateLimit }, async (request, reply) => {
    const { link, hmac } = request.query
    let workspace = ''
    let linkExp: number | undefined
    if (link !== undefined) {
      ({ workspace, exp: linkExp } = verifyConnectLink(fastify, link))
    } else if (hmac !== undefined) {
      // As at the callback: a signed install URL is good for as long as a state would be, not forever.
      const signed = checkSignedRedirect(secrets, queryPairs(request.url), Date.now() / 1000, config.STATE_TOKEN_TTL_SECONDS)
      if (signed === 'signature') throw new ShopifySignatureError()
      if (signed === 'expired') throw new ShopifyExpiredError()
    } else {
      throw new ShopifyEntryError()
    }
    const shop = canonicalShop(request.query.shop)
    if (shop === undefined) throw new ShopInvalidError()
    const { binding: browser } = binding.start(reply)
    const state = stateToken.issue('shopify', workspace,
      { ttlSeconds: config.STATE_TOKEN_TTL_SECONDS, binding: browser, shop, ...(linkExp === undefined ? {} : { linkExp }) })
    const authorize = new URLSearchParams({
      client_id: config.SHOPIFY_API_KEY, scope: config.SHOPIFY_SCOPES, redirect_uri: config.SHOPIFY_REDIRECT_URI, state
    })
    return reply.header('cache-control', 'no-store').redirect(`${shopify.origin(shop)}/admin/oauth/authorize?${authorize}`, 302)
  })

  // The binding cookie is cleared on every callback, before anything can refuse it (a query that fails validation too).
  const clearBinding: onRequestHookHandler = (_request, reply, done) => {
    binding.clear(reply)
    reply.header('cache-control', 'no-store')
    done()
  }

  const callbackOptions = { schema: { querystring: CallbackQuery }, onRequest: [...fastify.clientRateLimit, clearBinding] }
  fastify.get('/callback', callbackOptions, async (request, reply) => {
    const query = request.query
    const claims = callbackClaims(stateToken, query.state, 'shopify')
    const browserMatches = binding.secretFor(request, claims?.binding) !== undefined
    const signed = checkSignedRedirect(secrets, queryPairs(request.url), Date.now() / 1000, config.STATE_TOKEN_TTL_SECONDS)
    if (signed === 'signature') throw new ShopifySignatureError()
    if (signed === 'expired') throw new ShopifyExpiredError()
    const shop = canonicalShop(query.shop)
    if (shop === undefined) throw new ShopInvalidError()
    if (claims === undefined || claims.shop !== shop || query.code === undefined) throw new ShopifyExpiredError()
    if (!browserMatches) throw new ShopifyBrowserError()

    const tokens = await shopify.exchangeCode(shop, query.code, AbortSignal.timeout(config.CALLBACK_TIMEOUT_MS)).catch(upstreamError)
    const granted = new Set(tokens.scopes)
    // A write scope includes its read scope, and Shopify lists only the write one.
    if (!requiredScopes.every(scope => granted.has(scope) || granted.has(scope.replace(/^read_/, 'write_')))) throw new ShopifyScopesError()
    const workspace = claims.workspace === '' ? null : claims.workspace
    const assigned = await store.shops.saveInstall(shop, workspace, tokens)
    // Any merchant can install from the Shopify admin: the service reads a catalog only for a shop an operator assigned.
    if (assigned !== null) fastify.catalogSyncs.installed(shop)
    request.log.info({ shop, workspace, assigned: assigned !== null }, 'shopify store connected')

    if (wantsHtml(request.headers.accept)) {
      if (workspace === null) {
        return reply.type('text/html; charset=utf-8').send(renderPage('Store installed',
          `<p>The app is installed on <strong>${escapeHtml(shop)}</strong>.</p><p>The operator of the bot will finish the setup.</p>`))
      }
      const link = stateToken.issue('connect', workspace, { expiresAt: claims.linkExp ?? claims.exp })
      return reply.redirect(connectPageUrl(link, { connected: 'shopify' }), 303)
    }
    return { workspace, shop, scopes: tokens.scopes, catalog: { status: assigned === null ? 'awaiting_assignment' : 'syncing' } }
  })
}

function upstreamError (err: unknown): never {
  if (err instanceof ShopifyError && err.status >= 400 && err.status < 500) throw new ShopifyCodeRejectedError({ cause: err })
  if (err instanceof ShopifyCallTimeoutError) throw new ShopifyTimeoutError({ cause: err })
  throw new ShopifyFailedError({ cause: err })
}

export default shopifyOauth
