import { createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build, catalogProduct, mockGraph, recordingInboxWrites, testDb } from '../../helper.js'

const { db, written } = recordingInboxWrites(await testDb(t))
const SECRET = 'shopify-webhook-secret'
const env = { SHOPIFY_API_KEY: 'shopify-key', SHOPIFY_API_SECRET: SECRET, SHOPIFY_API_SECRET_PREVIOUS: 'rotated-out-secret', SHOPIFY_REDIRECT_URI: 'https://connect.example.com/shopify/callback' }
const SHOP = 'hooks.myshopify.com'
const GRAPHQL = /\/graphql\.json$/
const tokens = { accessToken: 'shpat_hooks', accessExpiresAt: new Date(Date.now() + 3600_000), refreshToken: 'shprt_hooks', refreshExpiresAt: null, scopes: ['read_products'] }
const graphqlProduct = (id: string, title: string, updatedAt: string, status = 'ACTIVE') => ({
  data: {
    product: {
      id: `gid://shopify/Product/${id}`,
      legacyResourceId: id,
      status,
      title,
      handle: title.toLowerCase(),
      description: '',
      productType: '',
      vendor: '',
      tags: [],
      onlineStoreUrl: null,
      updatedAt,
      featuredImage: null,
      priceRangeV2: { minVariantPrice: { amount: '12.00', currencyCode: 'EUR' }, maxVariantPrice: { amount: '12.00', currencyCode: 'EUR' } },
      variants: { nodes: [{ legacyResourceId: `${id}1`, title: 'Default', price: '12.00', availableForSale: true }] }
    }
  }
})

const agent = mockGraph(t)
const app = await build(t, { db, env, shopifyDispatcher: agent })
const shopify = agent.get(`https://${SHOP}`)
let webhookCount = 0

interface DeliveryOptions { shop?: string, secret?: string, id?: string, signature?: string }
async function deliver (topic: string, payload: unknown, options: DeliveryOptions = {}) {
  const body = JSON.stringify(payload)
  return app.inject({
    method: 'POST',
    url: '/shopify/webhooks',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-hmac-sha256': options.signature ?? createHmac('sha256', options.secret ?? SECRET).update(body).digest('base64'),
      'x-shopify-topic': topic,
      'x-shopify-shop-domain': options.shop ?? SHOP,
      'x-shopify-webhook-id': options.id ?? `webhook-${++webhookCount}`
    }
  })
}
async function settled () {
  for (let i = 0; i < 100; i++) {
    const [row] = await db.query<{ n: number }>("SELECT count(*)::integer AS n FROM inbox WHERE source = 'shopify' AND parked_at IS NULL")
    if (row!.n === 0) return
    await sleep(50)
  }
  throw new Error('the Shopify inbox was not processed')
}
const dataRequest = (shop: string) =>
  ({ shop_id: 1, shop_domain: shop, customer: { id: 7 }, orders_requested: [], data_request: { id: 9 } })
const customerRedact = (shop: string) => ({ shop_id: 1, shop_domain: shop, customer: { id: 7 }, orders_to_redact: [] })
const shopObject = (shop: string) => ({ id: 1, name: 'Hooks', domain: 'hooks.example.com', myshopify_domain: shop })
const titleOf = async (id: string) => (await db.query<{ title: string }>('SELECT title FROM products WHERE shop = $1 AND id = $2', [SHOP, id]))[0]?.title

await app.store.shops.saveInstall(SHOP, 'hooks-ws', tokens)
await app.store.catalog.upsert(SHOP, [catalogProduct('1', 'Old title', { updatedAt: '2026-11-01T00:00:00Z' }), catalogProduct('2', 'Doomed', { updatedAt: '2026-11-01T00:00:00Z' })], new Date())

t.test('signature, headers, body: refused before anything is stored', async t => {
  const before = written.length
  t.equal((await deliver('products/update', { id: 1 }, { signature: 'bm90IGEgc2lnbmF0dXJl' })).statusCode, 401)
  t.equal((await deliver('products/update', { id: 1 }, { secret: 'another-secret' })).statusCode, 401)
  t.equal((await deliver('products/update', { id: 1 }, { shop: 'evil.net' })).statusCode, 400, 'a shop domain that is not a shop')
  const oversized = await app.inject({ method: 'POST', url: '/shopify/webhooks', payload: `"${'x'.repeat(5 * 1024 * 1024 + 10)}"`, headers: { 'content-type': 'application/json' } })
  t.equal(oversized.statusCode, 413, 'over 5 MiB')
  t.equal(written.length, before, 'nothing stored')
  t.equal((await deliver('customers/data_request', dataRequest(SHOP), { secret: 'rotated-out-secret' })).statusCode, 200,
    'the previous secret during a rotation')
  await settled()
})

t.test('products/update: a newer version is read again and stored; an older or redelivered one changes nothing', async t => {
  let reads = 0
  shopify.intercept({ path: GRAPHQL, method: 'POST' }).reply(200, () => { reads++; return graphqlProduct('1', 'New title', '2026-11-20T00:00:00Z') })
  t.equal((await deliver('products/update', { id: 1, updated_at: '2026-11-20T00:00:00Z', status: 'active' }, { id: 'update-1' })).statusCode, 200)
  await settled()
  t.equal(await titleOf('1'), 'New title')
  t.equal((await deliver('products/update', { id: 1, updated_at: '2026-11-05T00:00:00Z' })).statusCode, 200, 'an older update arriving late')
  await settled()
  // Were the redelivery processed again, the older stored version would make it read the product again.
  await db.query("UPDATE products SET updated_at = '2026-11-02T00:00:00Z' WHERE shop = $1 AND id = '1'", [SHOP])
  t.equal((await deliver('products/update', { id: 1, updated_at: '2026-11-20T00:00:00Z' }, { id: 'update-1' })).statusCode, 200, 'Shopify retries with the same id')
  await settled()
  t.equal(reads, 1, 'read once: the redelivery was recognised by its id, the late one by its updated_at')
  t.equal(await titleOf('1'), 'New title')
})

t.test('products/delete and a product no longer active remove it; products/create stores a new one', async t => {
  await deliver('products/delete', { id: 2 })
  shopify.intercept({ path: GRAPHQL, method: 'POST' }).reply(200, graphqlProduct('3', 'Brand new', '2026-11-21T00:00:00Z'))
  await deliver('products/create', { id: 3, updated_at: '2026-11-21T00:00:00Z', status: 'active' })
  await settled()
  t.equal(await titleOf('2'), undefined)
  t.equal(await titleOf('3'), 'Brand new')
  shopify.intercept({ path: GRAPHQL, method: 'POST' }).reply(200, graphqlProduct('3', 'Brand new', '2026-11-22T00:00:00Z', 'DRAFT'))
  await deliver('products/update', { id: 3, updated_at: '2026-11-22T00:00:00Z', status: 'draft' })
  await settled()
  t.equal(await titleOf('3'), undefined, 'a draft, as read back, is not recommended')
})

t.test('a delivery for a shop this service does not know is acknowledged and dropped', async t => {
  t.equal((await deliver('products/delete', { id: 1 }, { shop: 'stranger.myshopify.com' })).statusCode, 200)
  await settled()
  t.same(await db.query("SELECT count(*)::integer AS n FROM shopify_webhooks WHERE shop = 'stranger.myshopify.com'"), [{ n: 0 }])
})

t.test('compliance topics are recorded and answered 200', async t => {
  t.equal((await deliver('customers/data_request', dataRequest(SHOP), { id: 'customers/data_request-1' })).statusCode, 200)
  t.equal((await deliver('customers/redact', customerRedact(SHOP), { id: 'customers/redact-1' })).statusCode, 200)
  await settled()
  t.same(await db.query("SELECT topic FROM shopify_webhooks WHERE webhook_id LIKE 'customers/%' ORDER BY topic"), [{ topic: 'customers/data_request' }, { topic: 'customers/redact' }])
})

t.test('app/uninstalled deletes the tokens and marks the shop uninstalled; shop/redact erases it', async t => {
  await deliver('app/uninstalled', shopObject(SHOP))
  await settled()
  t.equal(await app.store.shops.status(SHOP), 'uninstalled')
  t.same(await db.query('SELECT count(*)::integer AS n FROM shop_tokens WHERE shop = $1', [SHOP]), [{ n: 0 }])
  t.equal(await titleOf('1'), 'New title', 'the catalog stays until shop/redact')

  await deliver('shop/redact', { shop_id: 1, shop_domain: SHOP }, { id: 'redact-hooks' })
  await settled()
  for (const table of ['shops', 'shop_tokens', 'products']) {
    t.same(await db.query(`SELECT count(*)::integer AS n FROM ${table} WHERE shop = $1`, [SHOP]), [{ n: 0 }], `${table}: nothing of the shop left`)
  }
  t.same(await db.query('SELECT webhook_id, topic FROM shopify_webhooks WHERE shop = $1', [SHOP]), [{ webhook_id: 'redact-hooks', topic: 'shop/redact' }],
    'only the key of the redact itself, so a redelivery of it is recognised')
})

t.test('a body does not vouch for other headers: resent under another topic or shop, it is 400 and nothing changes', async t => {
  const VICTIM = 'victim.myshopify.com'
  await app.store.shops.saveInstall(VICTIM, 'victim-ws', { ...tokens, accessToken: 'shpat_victim' })
  await app.store.catalog.upsert(VICTIM, [catalogProduct('50', 'Victim product', { updatedAt: '2026-11-01T00:00:00Z' })], new Date())
  const productBody = { id: 1, admin_graphql_api_id: 'gid://shopify/Product/1', title: 'x', updated_at: '2026-11-20T00:00:00Z', status: 'active' }
  const before = written.length
  const refused: Array<[string, unknown, string]> = [
    ['shop/redact', productBody, 'a product body as shop/redact'],
    ['app/uninstalled', productBody, 'a product body as app/uninstalled'],
    ['shop/redact', { shop_id: 2, shop_domain: 'other.myshopify.com' }, "another shop's redact"],
    ['app/uninstalled', shopObject('other.myshopify.com'), "another shop's uninstall"],
    ['app/uninstalled', { id: 1, domain: VICTIM }, 'an uninstall whose body names no myshopify domain'],
    ['shop/redact', customerRedact(VICTIM), 'a customers/redact body as shop/redact'],
    ['customers/redact', dataRequest(VICTIM), 'a data request as customers/redact'],
    ['products/update', { shop_id: 1, shop_domain: VICTIM }, 'a redact body as a product update'],
    ['products/delete', { id: 50, admin_graphql_api_id: 'gid://shopify/Product/51' }, 'a product whose two ids disagree'],
    ['products/delete', { id: 'fifty' }, 'a product without a numeric id'],
    ['orders/create', { id: 1 }, 'a topic this service does not take'],
    ['shop/redact', [1, 2], 'not an object']
  ]
  for (const [topic, body, name] of refused) {
    t.equal((await deliver(topic, body, { shop: VICTIM })).statusCode, 400, name)
  }
  t.equal(written.length, before, 'nothing stored')
  t.equal(await app.store.shops.status(VICTIM), 'connected')
  t.same(await db.query('SELECT title FROM products WHERE shop = $1', [VICTIM]), [{ title: 'Victim product' }])
})

t.test("a product body sent under another shop is read back from that shop: the first shop's catalog stays", async t => {
  const OTHER = 'other-shop.myshopify.com'
  await app.store.shops.saveInstall(OTHER, 'other-ws', { ...tokens, accessToken: 'shpat_other' })
  await app.store.catalog.upsert(OTHER, [catalogProduct('60', 'Other product', { updatedAt: '2026-11-01T00:00:00Z' })], new Date())
  const asked: string[] = []
  agent.get(`https://${OTHER}`).intercept({ path: GRAPHQL, method: 'POST' }).reply(200, (options) => {
    asked.push((options.headers as Record<string, string>)['x-shopify-access-token']!)
    return { data: { product: null } }
  })
  t.equal((await deliver('products/update', { id: 60, updated_at: '2026-11-25T00:00:00Z' }, { shop: OTHER })).statusCode, 200)
  await settled()
  t.same(asked, ['shpat_other'], "read back with that shop's own token")
  t.equal((await db.query('SELECT count(*)::integer AS n FROM products WHERE shop = $1', [OTHER]))[0]!.n, 0, 'gone from the shop that no longer has it')
})

t.test('shop/redact is deduplicated like the others: a redelivery after a reinstall erases nothing', async t => {
  const AGAIN = 'again.myshopify.com'
  await app.store.shops.saveInstall(AGAIN, 'again-ws', tokens)
  t.equal((await deliver('shop/redact', { shop_id: 3, shop_domain: AGAIN }, { shop: AGAIN, id: 'redact-again' })).statusCode, 200)
  await settled()
  t.equal(await app.store.shops.status(AGAIN), undefined)
  await app.store.shops.saveInstall(AGAIN, 'again-ws', tokens)
  t.equal((await deliver('shop/redact', { shop_id: 3, shop_domain: AGAIN }, { shop: AGAIN, id: 'redact-again' })).statusCode, 200)
  await settled()
  t.equal(await app.store.shops.status(AGAIN), 'connected', 'the redelivered redact was recognised by its id')
})
