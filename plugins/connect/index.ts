import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { csvList } from '../core/config.js'
import { escapeHtml, renderPage } from '../core/html.js'
import { securityHeaders } from '../core/security-headers.js'
import type { PageSummary } from '../store/pages.js'
import type { ShopSummary } from '../store/shops.js'
import { verifyConnectLink } from '../tokens/connect-link.js'

const ConnectQuery = Type.Object({
  link: Type.Optional(Type.String({ maxLength: 1024 })),
  connected: Type.Optional(Type.Union([Type.Literal('facebook'), Type.Literal('shopify')])),
  missing: Type.Optional(Type.String({ pattern: '^[a-z_]+(,[a-z_]+)*$', maxLength: 512 })),
  elsewhere: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 }))
})

function describePage (page: PageSummary): string {
  const state = page.status === 'needs_reconnect'
    ? 'needs to be connected again'
    : page.canMessage
      ? 'the bot can message its customers'
      : page.tasks.includes('MESSAGING')
        ? 'the bot cannot message its customers (the pages_messaging permission was not granted)'
        : 'the bot cannot message its customers (you lack the Messaging task on this Page)'
  const category = page.category === '' ? '' : ` <span class="muted">(${escapeHtml(page.category)})</span>`
  return `<li><strong>${escapeHtml(page.name)}</strong>${category}: ${state}</li>`
}

/**
 * Where the Shopify form's redirect goes, as a CSP source: browsers apply form-action to the redirects that follow a
 * form, and /shopify/install answers with a 302 to the shop's grant screen.
 */
export function shopFormSource (shopOrigin: string): string {
  const pathStart = shopOrigin.indexOf('/', shopOrigin.indexOf('//') + 2)
  const origin = pathStart === -1 ? shopOrigin : shopOrigin.slice(0, pathStart)
  return origin.replace('{shop}', '*.myshopify.com')
}

function describeShop (shop: ShopSummary): string {
  if (shop.status !== 'connected') return 'needs to be connected again'
  // Until its first sync finishes, a shop's count says nothing about its catalog.
  const syncing = shop.lastSync.result === 'running' || shop.lastSync.result === null
  return syncing ? 'connected, its catalog is syncing' : `connected, ${shop.productCount} products`
}

const connect: FastifyPluginAsyncTypebox = async (fastify) => {
  const requestedScopes = new Set(csvList(fastify.config.FACEBOOK_SCOPES))
  const shopifyOn = fastify.config.features.shopify
  // The console needs Messenger: conversations, replies and campaigns are all Messenger's.
  const consoleOn = fastify.config.features.messenger
  const policy = shopifyOn ? securityHeaders([shopFormSource(fastify.config.SHOPIFY_SHOP_ORIGIN)])['content-security-policy'] : undefined

  async function shopifySection (workspace: string, link: string): Promise<string> {
    const shop = await fastify.store.shops.ofWorkspace(workspace)
    const current = shop === undefined
      ? '<p class="muted">No Shopify store connected yet.</p>'
      : `<h2>Shopify store</h2><p><strong>${escapeHtml(shop.shop)}</strong>: ${describeShop(shop)}</p>`
    return current + '<form method="get" action="/shopify/install">' +
      `<input type="hidden" name="link" value="${escapeHtml(link)}">` +
      '<label>Store address <input name="shop" required placeholder="your-store.myshopify.com" autocomplete="off"></label> ' +
      '<button class="button">Connect your Shopify store</button></form>'
  }

  fastify.get('/connect', { schema: { querystring: ConnectQuery }, onRequest: fastify.clientRateLimit }, async (request, reply) => {
    const { link, connected, missing, elsewhere } = request.query
    const { workspace } = verifyConnectLink(fastify, link)
    const [pages, granted] = await Promise.all([fastify.store.pages.list(workspace), fastify.store.pages.grantedPermissions(workspace)])
    const loginUrl = `/facebook/login?${new URLSearchParams({ link: link! })}`
    // What someone who connected here did not grant, on every visit; the callback's `missing` adds what was just
    // declined. Only names this service asked for are shown, so the query cannot put arbitrary words on the page.
    const notGranted = granted.flatMap(permissions => [...requestedScopes].filter(scope => !permissions.includes(scope)))
    const declined = [...requestedScopes].filter(scope => notGranted.includes(scope) || csvList(missing ?? '').includes(scope))

    const parts = [`<p>Workspace <code>${escapeHtml(workspace)}</code></p>`]
    if (connected === 'facebook') parts.push('<p class="notice">Your Facebook Pages are connected.</p>')
    if (connected === 'shopify') parts.push('<p class="notice">Your Shopify store is connected.</p>')
    if (declined.length > 0) {
      parts.push(`<p class="notice">Some permissions were not granted: ${escapeHtml(declined.join(', '))}. ` +
        'The bot needs them to answer your customers. ' +
        `<a href="${escapeHtml(`${loginUrl}&rerequest=1`)}">Grant the missing permissions</a></p>`)
    }
    if (elsewhere !== undefined) {
      parts.push(`<p class="notice">${elsewhere === 1 ? '1 of your Pages is' : `${elsewhere} of your Pages are`} connected to another ` +
        'workspace and stayed there: moving a Page takes someone with the Messaging or Manage task on it.</p>')
    }
    parts.push(pages.length === 0
      ? '<p class="muted">No Pages connected yet.</p>'
      : `<h2>Connected Pages</h2><ul>${pages.map(describePage).join('')}</ul>`)
    parts.push(`<p><a class="button" href="${escapeHtml(loginUrl)}">Connect with Facebook</a></p>`)
    if (consoleOn) {
      const consoleUrl = `/console/open?${new URLSearchParams({ link: link! })}`
      parts.push(`<p><a class="button" href="${escapeHtml(consoleUrl)}">Open the console</a> ` +
        '<span class="muted">to see your customers\' conversations, answer them, run promotions and see what they earned.</span></p>')
    }
    if (shopifyOn) parts.push(await shopifySection(workspace, link!))

    if (policy !== undefined) reply.header('content-security-policy', policy)
    return reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderPage(shopifyOn ? 'Connect your Facebook Pages and Shopify store' : 'Connect your Facebook Pages', parts.join('')))
  })
}

export default connect
