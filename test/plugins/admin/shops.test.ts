import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ADMIN_TOKEN, build, catalogProduct, mockGraph, testDb } from '../../helper.js'

const db = await testDb(t)
const env = { SHOPIFY_API_KEY: 'shopify-key', SHOPIFY_API_SECRET: 'shopify-secret', SHOPIFY_REDIRECT_URI: 'https://connect.example.com/shopify/callback' }
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const tokens = { accessToken: 'shpat_admin', accessExpiresAt: new Date(Date.now() + 3600_000), refreshToken: 'shprt_admin', refreshExpiresAt: null, scopes: ['read_products'] }

const agent = mockGraph(t)
const app = await build(t, { db, env, shopifyDispatcher: agent })
await app.store.shops.saveInstall('acme.myshopify.com', 'admin-shop-a', tokens)
await app.store.shops.saveInstall('unassigned.myshopify.com', null, tokens)
const shoe = (id: string, title: string, price: string, available = true) => catalogProduct(id, title, { prices: [[price, available]], productType: 'Shoes' })
await app.store.catalog.upsert('acme.myshopify.com', [shoe('1', 'Trail running shoes', '89.00'), shoe('2', 'Running socks', '9.00'), shoe('3', 'Sold out shoes', '20.00', false)], new Date())

const never = { at: null, result: null, error: null }

t.test('shops are listed with their workspace, status, scopes, product count and last sync; never a token', async t => {
  const res = await app.inject({ url: '/admin/shops', headers: auth })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    shops: [
      { shop: 'acme.myshopify.com', workspace: 'admin-shop-a', status: 'connected', scopes: ['read_products'], productCount: 3, lastSync: never },
      { shop: 'unassigned.myshopify.com', workspace: null, status: 'connected', scopes: ['read_products'], productCount: 0, lastSync: never }
    ]
  })
  t.notMatch(res.body, /shpat_|shprt_/)
  t.equal((await app.inject({ url: '/admin/shops' })).statusCode, 401, 'the bearer token is required')
  t.match((await app.inject({ url: '/admin/workspaces/admin-shop-a/shop', headers: auth })).json(), { shop: 'acme.myshopify.com', productCount: 3 })
  t.equal((await app.inject({ url: '/admin/workspaces/admin-shop-none/shop', headers: auth })).statusCode, 404)
})

t.test('search: best match first among available products, maxPrice, limit', async t => {
  const search = async (query: string) => app.inject({ url: `/admin/workspaces/admin-shop-a/products?${query}`, headers: auth })
  const ids = async (query: string) => (await search(query)).json().products.map((p: { id: string }) => p.id)
  const res = await search('q=running+shoes')
  t.equal(res.statusCode, 200)
  t.same(await ids('q=running+shoes'), ['1', '2'])
  t.same(res.json().products[0], {
    id: '1',
    title: 'Trail running shoes',
    handle: 'trail-running-shoes',
    url: null,
    imageUrl: null,
    price: { min: '89.00', max: '89.00', currency: 'EUR' },
    variants: [{ id: '10', title: 'v0', price: '89.00', available: true }]
  })
  t.same(await ids('q=running&maxPrice=10'), ['2'])
  t.same(await ids('q=running&limit=1'), (await ids('q=running')).slice(0, 1), 'the best match')
  t.equal((await search('limit=51')).statusCode, 400)
  t.equal((await search('maxPrice=cheap')).statusCode, 400)
  t.equal((await app.inject({ url: '/admin/workspaces/admin-shop-none/products?q=x', headers: auth })).statusCode, 404)
})

t.test('assigning an installed shop, forgetting it; a sync request is accepted', async t => {
  const put = (workspace: string, shop: string) => app.inject({ method: 'PUT', url: `/admin/workspaces/${workspace}/shop`, headers: auth, payload: { shop } })
  const assigned = await put('admin-shop-b', 'Unassigned.myshopify.com')
  t.equal(assigned.statusCode, 200)
  t.match(assigned.json(), { shop: 'unassigned.myshopify.com', workspace: 'admin-shop-b' })
  t.equal((await put('admin-shop-b', 'never-installed.myshopify.com')).statusCode, 404)
  t.equal((await put('admin-shop-b', 'evil.net')).statusCode, 400)

  agent.get('https://unassigned.myshopify.com').intercept({ path: /graphql\.json$/, method: 'POST' }).reply(500, 'oops').persist()
  const sync = await app.inject({ method: 'POST', url: '/admin/workspaces/admin-shop-b/shop/sync', headers: auth })
  t.equal(sync.statusCode, 202)
  t.same(sync.json(), { shop: 'unassigned.myshopify.com', catalog: { status: 'syncing' } })

  t.equal((await app.inject({ method: 'DELETE', url: '/admin/workspaces/admin-shop-b/shop', headers: auth })).statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/workspaces/admin-shop-b/shop', headers: auth })).statusCode, 404)
  t.same(await db.query("SELECT count(*)::integer AS n FROM shop_tokens WHERE shop = 'unassigned.myshopify.com'"), [{ n: 0 }], 'its tokens are gone')
})

t.test('a sync asked for while one runs for the shop joins it: the catalog is read once', async t => {
  const shop = 'joined.myshopify.com'
  await app.store.shops.saveInstall(shop, 'admin-shop-c', tokens)
  let reads = 0
  let readAgain = () => {}
  const readTwice = new Promise<void>(resolve => { readAgain = resolve })
  const emptyCatalog = {
    data: { products: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] } },
    extensions: {
      cost: {
        requestedQueryCost: 922, actualQueryCost: 2, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 2000, restoreRate: 100 }
      }
    }
  }
  agent.get(`https://${shop}`).intercept({ path: /graphql\.json$/, method: 'POST' })
    .reply(200, () => { if (++reads === 2) readAgain(); return emptyCatalog }).delay(200).times(2)
  const lastSync = async () => (await app.inject({ url: '/admin/workspaces/admin-shop-c/shop', headers: auth })).json().lastSync

  t.equal(app.catalogSyncs.start(shop), true, 'starts')
  const asked = await app.inject({ method: 'POST', url: '/admin/workspaces/admin-shop-c/shop/sync', headers: auth })
  t.equal(asked.statusCode, 202, 'accepted')
  t.equal(app.catalogSyncs.start(shop), false, 'a third joins too')
  while ((await lastSync()).result !== 'ok') await sleep(50)
  t.equal(reads, 1, 'one pass over the catalog')
  t.equal(app.catalogSyncs.start(shop), true, 'once it ended, a new sync starts')
  await readTwice
})
