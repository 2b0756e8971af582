import { createHmac, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request as undiciRequest } from 'undici'

/**
 * Plays Shopify for end-to-end tests, the demo and the bench: the grant screen, the token endpoint with
 * expiring offline tokens and single-use refresh tokens, and the GraphQL Admin API's products query with
 * query cost and a leaky-bucket throttle. Shops live under `{url}/{shop}`, so the service's
 * SHOPIFY_SHOP_ORIGIN is `{url}/{shop}`.
 */
export interface ShopifyEmulatorOptions {
  apiKey: string
  apiSecret: string
  host?: string
  port?: number
  /** approve the grant screen at once, as a test client without a browser needs */
  autoApprove?: boolean
  /** products in every shop's catalog */
  products?: number
  /** what the grant hands out; by default the scopes asked for */
  grantedScopes?: string
  accessTokenSeconds?: number
  /** points the throttle bucket regains per second: 100 on Shopify's standard plans (the default) */
  restoreRate?: number
  /** where compliance webhooks go (app-wide in shopify.app.toml, not subscribed per shop) */
  webhookUrl?: string
}

const ADJECTIVES = ['Blue', 'Red', 'Linen', 'Wool', 'Leather', 'Organic', 'Vintage', 'Classic', 'Sourdough', 'Rye', 'Silk', 'Canvas']
const NOUNS = ['Shirt', 'Boots', 'Scarf', 'Bread', 'Jacket', 'Bag', 'Socks', 'Hat', 'Loaf', 'Mug', 'Dress', 'Croissant']
const TYPES = ['Apparel', 'Footwear', 'Bakery', 'Accessories', 'Home']
const BUCKET_MAXIMUM = 2000

/** Shopify's query signature, written here from its documentation rather than taken from the service. */
function sign (secret: string, params: Record<string, string>): string {
  const message = Object.keys(params).sort().map(name => `${name}=${encodeURIComponent(params[name]!).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`).join('&')
  return createHmac('sha256', secret).update(message).digest('hex')
}

/** `imageBase`: where the product's picture is served (the emulator's own /images/), else a placeholder host. */
export function emulatedProduct (n: number, imageBase = 'https://cdn.example/products') {
  const title = `${ADJECTIVES[n % ADJECTIVES.length]} ${NOUNS[Math.floor(n / ADJECTIVES.length) % NOUNS.length]} ${n}`
  const price = (5 + (n % 40) * 2.5).toFixed(2)
  return {
    id: `gid://shopify/Product/${n}`,
    legacyResourceId: String(n),
    status: 'ACTIVE',
    title,
    handle: title.toLowerCase().replaceAll(' ', '-'),
    description: `${title}: made by hand in small batches. Ask us about sizes and colours.`,
    productType: TYPES[n % TYPES.length]!,
    vendor: 'Corner Store',
    tags: [n % 2 === 0 ? 'new' : 'classic'],
    onlineStoreUrl: `https://store.example/products/${n}`,
    updatedAt: new Date(Date.UTC(2026, 10, 1) + n * 1000).toISOString(),
    featuredImage: { url: `${imageBase}/${n}.svg` },
    priceRangeV2: { minVariantPrice: { amount: price, currencyCode: 'EUR' }, maxVariantPrice: { amount: price, currencyCode: 'EUR' } },
    variants: { nodes: [{ legacyResourceId: `${n}0`, title: 'Default', price, availableForSale: n % 7 !== 0 }] }
  }
}

export async function startShopifyEmulator (options: ShopifyEmulatorOptions) {
  const catalogSize = options.products ?? 25
  const codes = new Map<string, { shop: string, scopes: string }>()
  const accessTokens = new Map<string, { shop: string, expiresAt: number }>()
  const refreshTokens = new Map<string, { shop: string, scopes: string }>()
  const buckets = new Map<string, { available: number, at: number }>()
  const tickets = new Map<string, { shop: string, redirectUri: string, state: string, scopes: string }>()
  const stats = { refreshes: 0, graphqlCalls: 0, throttled: 0 }
  const BUCKET = { maximum: BUCKET_MAXIMUM, restorePerSecond: options.restoreRate ?? 100 }
  const subscriptions = new Map<string, Map<string, string>>()
  let baseUrl = ''

  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  const token = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`

  function issue (shop: string, scopes: string) {
    const accessToken = token('shpat_')
    const refreshToken = token('shprt_')
    const lifetime = options.accessTokenSeconds ?? 3600
    accessTokens.set(accessToken, { shop, expiresAt: Date.now() + lifetime * 1000 })
    refreshTokens.set(refreshToken, { shop, scopes })
    return {
      access_token: accessToken, scope: scopes, expires_in: lifetime, refresh_token: refreshToken, refresh_token_expires_in: 7_776_000
    }
  }

  function grant (res: ServerResponse, ticket: { shop: string, redirectUri: string, state: string, scopes: string }) {
    const code = token('')
    codes.set(code, { shop: ticket.shop, scopes: options.grantedScopes ?? ticket.scopes })
    const params = { code, host: Buffer.from(`admin.shopify.com/store/${ticket.shop.split('.')[0]}`).toString('base64url'), shop: ticket.shop, state: ticket.state, timestamp: String(Math.floor(Date.now() / 1000)) }
    res.writeHead(302, { location: `${ticket.redirectUri}?${new URLSearchParams({ ...params, hmac: sign(options.apiSecret, params) })}` }).end()
  }

  function authorize (shop: string, url: URL, res: ServerResponse) {
    const q = Object.fromEntries(url.searchParams)
    if (q.client_id !== options.apiKey || !q.redirect_uri || !q.state) return res.writeHead(400, { 'content-type': 'text/plain' }).end('Invalid authorize request')
    const ticket = { shop, redirectUri: q.redirect_uri, state: q.state, scopes: q.scope ?? '' }
    if (options.autoApprove) return grant(res, ticket)
    const id = token('')
    tickets.set(id, ticket)
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><title>Install app (Shopify emulator)</title><h1>Install the app on ${shop}?</h1><p>It asks for: ${q.scope}</p>` +
      `<form method="get" action="/${shop}/admin/oauth/grant"><input type="hidden" name="ticket" value="${id}"><button>Install app</button></form>`)
  }

  function accessToken (shop: string, body: Record<string, string>, res: ServerResponse) {
    if (body.client_id !== options.apiKey || body.client_secret !== options.apiSecret) return json(res, 401, { error: 'invalid_client' })
    if (body.grant_type === 'refresh_token') {
      stats.refreshes++
      const held = refreshTokens.get(body.refresh_token ?? '')
      // Single use: a refresh token works once.
      refreshTokens.delete(body.refresh_token ?? '')
      if (held === undefined || held.shop !== shop) return json(res, 400, { error: 'invalid_grant', error_description: 'The refresh token is invalid or was already used' })
      return json(res, 200, issue(shop, held.scopes))
    }
    const held = codes.get(body.code ?? '')
    codes.delete(body.code ?? '')
    if (held === undefined || held.shop !== shop) return json(res, 400, { error: 'invalid_request', error_description: 'The authorization code was not found or was already used' })
    if (body.expiring !== '1') return json(res, 200, { access_token: token('shpat_'), scope: held.scopes })
    json(res, 200, issue(shop, held.scopes))
  }

  function graphql (shop: string, req: IncomingMessage, body: { query?: string, variables?: Record<string, unknown> },
    res: ServerResponse) {
    stats.graphqlCalls++
    const held = accessTokens.get(String(req.headers['x-shopify-access-token']))
    if (held === undefined || held.shop !== shop || held.expiresAt < Date.now()) return json(res, 401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' })
    if (body.query?.includes('webhookSubscriptionCreate') === true) return subscribe(shop, body.variables ?? {}, res)
    if (!body.query?.includes('products(')) return json(res, 200, { errors: [{ message: 'Unsupported query in the emulator' }] })
    const first = Number(body.variables?.first ?? 50)
    const variants = Number(/variants\(first: (\d+)\)/.exec(body.query)?.[1] ?? 1)
    const requested = 2 + first * (1 + 1 + 3 + 2 + variants)
    if (requested > 1000) return json(res, 200, { errors: [{ message: `Query cost is ${requested}, which exceeds the single query max cost limit (1000).`, extensions: { code: 'MAX_COST_EXCEEDED' } }] })
    const now = Date.now()
    const bucket = buckets.get(shop) ?? { available: BUCKET.maximum, at: now }
    bucket.available = Math.min(BUCKET.maximum, bucket.available + (now - bucket.at) / 1000 * BUCKET.restorePerSecond)
    bucket.at = now
    buckets.set(shop, bucket)
    const throttleStatus = () =>
      ({ maximumAvailable: BUCKET.maximum, currentlyAvailable: Math.floor(bucket.available), restoreRate: BUCKET.restorePerSecond })
    if (bucket.available < requested) {
      stats.throttled++
      return json(res, 200, { errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }], extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus() } } })
    }
    const start = body.variables?.after ? Number(Buffer.from(String(body.variables.after), 'base64url').toString()) : 0
    const end = Math.min(catalogSize, start + first)
    const nodes = Array.from({ length: end - start }, (_, i) => emulatedProduct(start + i + 1, `${baseUrl}/images`))
    const actual = 2 + nodes.length * 7
    bucket.available -= actual
    json(res, 200, {
      data: { products: { pageInfo: { hasNextPage: end < catalogSize, endCursor: nodes.length === 0 ? null : Buffer.from(String(end)).toString('base64url') }, nodes } },
      extensions: { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: throttleStatus() } }
    })
  }

  function subscribe (shop: string, variables: Record<string, unknown>, res: ServerResponse) {
    const topics = subscriptions.get(shop) ?? new Map<string, string>()
    subscriptions.set(shop, topics)
    const topic = String(variables.topic)
    if (topics.has(topic)) {
      return json(res, 200, { data: { webhookSubscriptionCreate: { webhookSubscription: null, userErrors: [{ field: ['callbackUrl'], message: 'Address for this topic has already been taken' }] } } })
    }
    topics.set(topic, String(variables.callbackUrl))
    json(res, 200, { data: { webhookSubscriptionCreate: { webhookSubscription: { id: `gid://shopify/WebhookSubscription/${topics.size}` }, userErrors: [] } } })
  }

  /** Posts a webhook as Shopify does: the JSON body, its base64 HMAC with the app secret, topic, shop and id headers. */
  async function deliverWebhook (shop: string, topic: string, payload: unknown, webhookId = randomBytes(12).toString('hex')): Promise<number> {
    const url = subscriptions.get(shop)?.get(topic.toUpperCase().replace('/', '_')) ?? options.webhookUrl
    if (url === undefined) throw new Error(`no webhook address for ${topic} of ${shop}`)
    const body = JSON.stringify(payload)
    const res = await undiciRequest(url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-shopify-hmac-sha256': createHmac('sha256', options.apiSecret).update(body).digest('base64'),
        'x-shopify-topic': topic,
        'x-shopify-shop-domain': shop,
        'x-shopify-webhook-id': webhookId
      }
    })
    await res.body.dump()
    return res.statusCode
  }

  async function readBody (req: IncomingMessage): Promise<string> {
    let text = ''
    for await (const chunk of req) {
      text += chunk
      if (text.length > 1024 * 1024) throw new Error('body too large')
    }
    return text
  }

  /** A product's picture for the demo: a tile in a colour of its own with the product's name. */
  function productImage (n: number, res: ServerResponse) {
    const hue = (n * 47) % 360
    const name = emulatedProduct(n).title.replace(/[&<>]/g, '')
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=3600' }).end(
      `<svg xmlns="http://www.w3.org/2000/svg" width="382" height="200" viewBox="0 0 382 200"><rect width="382" height="200" fill="hsl(${hue} 55% 55%)"/>` +
      `<text x="191" y="110" font-family="sans-serif" font-size="24" fill="#fff" text-anchor="middle">${name}</text></svg>`)
  }

  async function handle (req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://emulator')
    const image = /^\/images\/(\d+)\.svg$/.exec(url.pathname)
    if (image !== null) return productImage(Number(image[1]), res)
    const match = /^\/([a-z0-9][a-z0-9-]*\.myshopify\.com)(\/.*)$/.exec(url.pathname)
    if (match === null) return json(res, 404, { errors: 'Not Found' })
    const [, shop, path] = match as unknown as [string, string, string]
    if (path === '/admin/oauth/authorize') return authorize(shop, url, res)
    if (path === '/admin/oauth/grant') {
      const ticket = tickets.get(url.searchParams.get('ticket') ?? '')
      tickets.delete(url.searchParams.get('ticket') ?? '')
      return ticket === undefined ? res.writeHead(400).end('Unknown grant') : grant(res, ticket)
    }
    if (req.method !== 'POST') return json(res, 404, { errors: 'Not Found' })
    const text = await readBody(req)
    const body = String(req.headers['content-type']).startsWith('application/json') ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text))
    if (path === '/admin/oauth/access_token') return accessToken(shop, body, res)
    if (/^\/admin\/api\/\d{4}-\d{2}\/graphql\.json$/.test(path)) return graphql(shop, req, body, res)
    json(res, 404, { errors: 'Not Found' })
  }

  const server = createServer((req, res) => { handle(req, res).catch(() => res.writeHead(500).end()) })
  await new Promise<void>(resolve => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`

  return {
    url: baseUrl,
    /** the service's SHOPIFY_SHOP_ORIGIN for this emulator */
    shopOrigin: `${baseUrl}/{shop}`,
    stats,
    /** per shop, the webhook topics subscribed and their address */
    subscriptions,
    deliverWebhook,
    /** makes every access token of `shop` expire now, so the next call needs a refresh */
    expireTokens (shop: string) {
      for (const held of accessTokens.values()) if (held.shop === shop) held.expiresAt = 0
    },
    close: () => new Promise<void>(resolve => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

export type ShopifyEmulator = Awaited<ReturnType<typeof startShopifyEmulator>>
