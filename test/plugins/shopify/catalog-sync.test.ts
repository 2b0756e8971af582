import pino from 'pino'
import t from 'tap'
import { PAGE_SIZE, PRODUCTS_QUERY, syncCatalog } from '../../../plugins/shopify/catalog-sync.js'
import { createShopifyClient } from '../../../plugins/shopify/client.js'
import { openStore } from '../../../plugins/store/index.js'
import { mockGraph, testConfig, testDb } from '../../helper.js'

const db = await testDb(t)
const config = testConfig({ SHOPIFY_API_KEY: 'shopify-key', SHOPIFY_API_SECRET: 'shopify-secret', SHOPIFY_REDIRECT_URI: 'https://connect.example.com/shopify/callback' })
const { store } = await openStore({ db, encryptionKeys: config.TOKEN_ENCRYPTION_KEY })
const log = pino({ level: 'silent' })
const GRAPHQL = `/admin/api/${config.SHOPIFY_API_VERSION}/graphql.json`

const node = (n: number, extra: Partial<Record<string, unknown>> = {}) => ({
  id: `gid://shopify/Product/${n}`,
  legacyResourceId: String(n),
  status: 'ACTIVE',
  title: `Product ${n}`,
  handle: `product-${n}`,
  description: `Description of product ${n}`,
  productType: 'Bread',
  vendor: 'Corner Bakery',
  tags: ['fresh'],
  onlineStoreUrl: `https://shop.example/products/product-${n}`,
  updatedAt: '2026-11-01T00:00:00Z',
  featuredImage: { url: `https://cdn.example/${n}.jpg` },
  priceRangeV2: { minVariantPrice: { amount: '4.5', currencyCode: 'EUR' }, maxVariantPrice: { amount: '6.0', currencyCode: 'EUR' } },
  variants: { nodes: [{ legacyResourceId: `${n}01`, title: 'Small', price: '4.50', availableForSale: true }, { legacyResourceId: `${n}02`, title: 'Large', price: '6.00', availableForSale: false }] },
  ...extra
})
const cost = (available = 1900) => ({
  cost: {
    requestedQueryCost: 922,
    actualQueryCost: 100,
    throttleStatus: { maximumAvailable: 2000, currentlyAvailable: available, restoreRate: 100 }
  }
})
const page = (nodes: unknown[], endCursor: string | null, available?: number) =>
  ({ data: { products: { pageInfo: { hasNextPage: endCursor !== null, endCursor }, nodes } }, extensions: cost(available) })

async function connectedShop (shop: string) {
  await store.shops.saveInstall(shop, null, { accessToken: 'shpat_sync', accessExpiresAt: new Date(Date.now() + 3600_000), refreshToken: 'shprt_sync', refreshExpiresAt: null, scopes: ['read_products'] })
}

function harness (t: Parameters<typeof mockGraph>[0], shop: string) {
  const agent = mockGraph(t)
  const shopify = createShopifyClient({
    apiKey: config.SHOPIFY_API_KEY,
    apiSecret: config.SHOPIFY_API_SECRET,
    apiVersion: config.SHOPIFY_API_VERSION,
    shopOrigin: config.SHOPIFY_SHOP_ORIGIN,
    timeoutMs: config.SHOPIFY_TIMEOUT_MS,
    dispatcher: agent
  })
  const waits: number[] = []
  const sent: Array<Record<string, unknown>> = []
  const run = () => syncCatalog(shop, { shopify, store, log, wait: async ms => { waits.push(ms) } })
  const pool = agent.get(`https://${shop}`)
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => pool.intercept({ path: GRAPHQL, method: 'POST' }).reply(status, (options) => {
    sent.push({ ...JSON.parse(String(options.body)), token: (options.headers as Record<string, string>)['x-shopify-access-token'] })
    return body as object
  }, { headers })
  return { agent, run, reply, waits, sent }
}

t.test('a full sync pages through the catalog, stores every product and removes what is gone', async t => {
  const shop = 'sync-full.myshopify.com'
  await connectedShop(shop)
  const first = harness(t, shop)
  first.reply(200, page([node(1), node(2)], 'cursor-1'))
  first.reply(200, page([node(3)], null))
  t.same(await first.run(), { products: 3, removed: 0 })
  t.same(first.sent.map(s => s.variables), [{ first: PAGE_SIZE, after: null }, { first: PAGE_SIZE, after: 'cursor-1' }], 'follows pageInfo')
  t.ok(first.sent.every(s => s.query === PRODUCTS_QUERY && s.token === 'shpat_sync'), 'the query, with the shop\'s token')
  t.equal(await store.catalog.count(shop), 3)
  t.same(await db.query('SELECT sync_result, sync_error FROM shops WHERE shop = $1', [shop]), [{ sync_result: 'ok', sync_error: null }])

  const second = harness(t, shop)
  second.reply(200, page([node(1), node(3)], null))
  t.same(await second.run(), { products: 2, removed: 1 })
  t.same((await store.catalog.search(shop, '', { limit: 10 })).map(p => p.id).sort(), ['1', '3'])
})

t.test('THROTTLED waits for the bucket to refill, then the same page succeeds; pages are paced by what is left', async t => {
  const shop = 'sync-throttled.myshopify.com'
  await connectedShop(shop)
  const { reply, run, waits } = harness(t, shop)
  reply(200, { errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }], extensions: cost(400) })
  reply(200, page([node(1)], 'cursor-1', 722))
  reply(200, page([node(2)], null))
  t.same(await run(), { products: 2, removed: 0 })
  t.same(waits, [6000, 2000], 'ceil((922 - 400) / 100) s, then ceil((922 - 722) / 100) s before the next page')
})

t.test('429 and 5xx are retried with Retry-After or backoff; a sync that keeps failing keeps the catalog it had', async t => {
  const shop = 'sync-failing.myshopify.com'
  await connectedShop(shop)
  const good = harness(t, shop)
  good.reply(200, page([node(1), node(2)], null))
  await good.run()

  const flaky = harness(t, shop)
  flaky.reply(429, { errors: 'Exceeded 2 calls per second' }, { 'retry-after': '3' })
  flaky.reply(503, 'unavailable')
  flaky.reply(200, page([node(1)], 'cursor-1'))
  for (let i = 0; i < 5; i++) flaky.reply(500, 'oops')
  await t.rejects(flaky.run(), /answered 500/)
  t.same(flaky.waits, [3000, 2000, 1000, 2000, 4000, 8000], 'Retry-After, then 1, 2, 4, 8 s')
  t.equal(await store.catalog.count(shop), 2, 'nothing removed: the previous catalog stays')
  const [row] = await db.query<{ sync_result: string, sync_error: string }>('SELECT sync_result, sync_error FROM shops WHERE shop = $1', [shop])
  t.equal(row!.sync_result, 'failed')
  t.match(row!.sync_error, /answered 500/)
})

t.test('a 401 marks the shop needs_reconnect and stops', async t => {
  const shop = 'sync-revoked.myshopify.com'
  await connectedShop(shop)
  const { reply, run } = harness(t, shop)
  reply(401, { errors: '[API] Invalid API key or access token' })
  await t.rejects(run(), /refused the token/)
  t.equal(await store.shops.status(shop), 'needs_reconnect')
})

t.test('search ranks by relevance among available products, under maxPrice, best first', async t => {
  const shop = 'sync-search.myshopify.com'
  await connectedShop(shop)
  const { reply, run } = harness(t, shop)
  reply(200, page([
    node(11, {
      title: 'Blue leather boots',
      tags: ['winter'],
      priceRangeV2: { minVariantPrice: { amount: '80.0', currencyCode: 'EUR' }, maxVariantPrice: { amount: '120.0', currencyCode: 'EUR' } },
      variants: { nodes: [{ legacyResourceId: '1101', title: '40', price: '80.00', availableForSale: true }, { legacyResourceId: '1102', title: '44', price: '120.00', availableForSale: true }] }
    }),
    node(12, { title: 'Wool socks', description: 'Warm socks for your boots' }),
    node(13, { title: 'Red boots', variants: { nodes: [{ legacyResourceId: '1301', title: 'one', price: '50.00', availableForSale: false }] } })
  ], null))
  await run()
  const hits = await store.catalog.search(shop, 'boots', { limit: 10 })
  t.same(hits.map(h => h.id), ['11', '12'], 'title before description; a product with nothing available is left out')
  t.same(hits[0], {
    id: '11',
    title: 'Blue leather boots',
    handle: 'product-11',
    url: 'https://shop.example/products/product-11',
    imageUrl: 'https://cdn.example/11.jpg',
    price: { min: '80.0', max: '120.0', currency: 'EUR' },
    variants: [{ id: '1101', title: '40', price: '80.00', available: true }, { id: '1102', title: '44', price: '120.00', available: true }]
  })
  t.same((await store.catalog.search(shop, 'boot', { maxPrice: 79.99, limit: 10 })).map(h => h.id), ['12'], 'stemmed, and only what is available at or under maxPrice')
  t.same((await store.catalog.search(shop, 'boots', { maxPrice: 80, limit: 10 })).map(h => h.id), ['11', '12'])
  t.same((await store.catalog.search(shop, 'winter', { limit: 1 })).map(h => h.id), ['11'], 'tags are searched; limit')
})
