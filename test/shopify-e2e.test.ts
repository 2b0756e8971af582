import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { startShopifyEmulator } from '../tools/emulator/shopify.js'
import { ADMIN_TOKEN, build, freePort, testDb } from './helper.js'
import { browser } from './http-client.js'

const db = await testDb(t)
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

t.test('over real HTTP: connect a store from the connect page, its catalog syncs, the admin API searches it', async t => {
  // Tokens that live two minutes are always within the five-minute renewal margin: every call renews first.
  const emulator = await startShopifyEmulator({ apiKey: 'e2e-shopify-key', apiSecret: 'e2e-shopify-secret', products: 130, accessTokenSeconds: 120 })
  t.teardown(emulator.close)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = await build(t, {
    db,
    env: {
      FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
      SHOPIFY_API_KEY: 'e2e-shopify-key',
      SHOPIFY_API_SECRET: 'e2e-shopify-secret',
      SHOPIFY_REDIRECT_URI: `${base}/shopify/callback`,
      SHOPIFY_SHOP_ORIGIN: emulator.shopOrigin
    }
  })
  await app.listen({ port, host: '127.0.0.1' })
  const minted = await request(`${base}/admin/workspaces/e2e-store/connect-links`, { method: 'POST', headers: auth })
  const { url } = await minted.body.json() as { url: string }

  const client = browser()
  const connect = await client.get(url)
  const link = /<input type="hidden" name="link" value="([^"]+)">/.exec(connect.body)![1]!
  t.match(connect.body, 'Connect your Shopify store')
  const grantScreen = await client.follow(`${base}/shopify/install?${new URLSearchParams({ link, shop: 'Corner-Store.myshopify.com' })}`)
  t.match(grantScreen.body, 'Install the app on corner-store.myshopify.com?')
  const ticket = /name="ticket" value="([^"]+)"/.exec(grantScreen.body)![1]!
  const result = await client.follow(`${emulator.url}/corner-store.myshopify.com/admin/oauth/grant?ticket=${ticket}`)
  t.same(client.responses.map(r => [new URL(r.url).pathname, r.status]), [
    ['/connect', 200],
    ['/shopify/install', 302],
    ['/corner-store.myshopify.com/admin/oauth/authorize', 200],
    ['/corner-store.myshopify.com/admin/oauth/grant', 302],
    ['/shopify/callback', 303],
    ['/connect', 200]
  ])
  t.equal(result.status, 200)
  t.match(result.body, 'Your Shopify store is connected.')

  let shop: { status: string, productCount: number, lastSync: { result: string | null } } | undefined
  for (let i = 0; i < 100; i++) {
    const res = await request(`${base}/admin/workspaces/e2e-store/shop`, { headers: auth })
    shop = await res.body.json() as typeof shop
    if (shop!.lastSync.result === 'ok' || shop!.lastSync.result === 'failed') break
    await sleep(50)
  }
  t.match(shop, { status: 'connected', productCount: 130, lastSync: { result: 'ok' } }, 'the whole catalog synced')
  t.ok(emulator.stats.refreshes >= 1, `the expiring token was renewed (${emulator.stats.refreshes} refreshes)`)

  const search = await request(`${base}/admin/workspaces/e2e-store/products?q=wool+scarf&limit=3`, { headers: auth })
  const { products } = await search.body.json() as { products: Array<{ title: string }> }
  t.ok(products.length > 0 && /Wool|Scarf/.test(products[0]!.title), `best match first: ${products[0]?.title}`)

  const shopName = 'corner-store.myshopify.com'
  t.same(Object.fromEntries(emulator.subscriptions.get(shopName)!), Object.fromEntries(
    ['PRODUCTS_CREATE', 'PRODUCTS_UPDATE', 'PRODUCTS_DELETE', 'APP_UNINSTALLED'].map(topic => [topic, `${base}/shopify/webhooks`])), 'subscribed after the install')
  const status = async () => (await (await request(`${base}/admin/workspaces/e2e-store/shop`, { headers: auth })).body.json() as { status: string, productCount: number })
  t.equal(await emulator.deliverWebhook(shopName, 'products/delete', { id: 5 }), 200)
  for (let i = 0; i < 100 && (await status()).productCount !== 129; i++) await sleep(50)
  t.equal((await status()).productCount, 129, 'a signed products/delete from the emulator removed the product')
  t.equal(await emulator.deliverWebhook(shopName, 'app/uninstalled', { id: 1, domain: shopName, myshopify_domain: shopName }), 200)
  for (let i = 0; i < 100 && (await status()).status !== 'uninstalled'; i++) await sleep(50)
  t.equal((await status()).status, 'uninstalled')
})
