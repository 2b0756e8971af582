import t from 'tap'
import { build, mintLink, testDb } from '../../helper.js'

const db = await testDb(t)

t.test('the connect page lists the workspace Pages and links to Facebook Login', async t => {
  const app = await build(t, { db })
  await app.store.pages.saveConnection({
    workspace: 'con-a',
    user: { id: '8', name: 'U', accessToken: 'EAAuser' },
    pages: [
      { id: '601', name: '<script>alert(1)</script>', category: 'A & B', tasks: ['MESSAGING'], canMessage: true, accessToken: 'EAApage' },
      { id: '602', name: 'Read only', category: '', tasks: ['ANALYZE'], canMessage: false, accessToken: 'EAApage2' }
    ]
  })
  const { link } = await mintLink(app, 'con-a')
  const res = await app.inject({ url: `/connect?link=${link}` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], 'text/html')
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.headers['content-security-policy'], "default-src 'none'")
  t.match(res.body, `<a class="button" href="/facebook/login?link=${link}">Connect with Facebook</a>`)
  t.match(res.body, '&lt;script&gt;alert(1)&lt;/script&gt;')
  t.notMatch(res.body, '<script>')
  t.match(res.body, 'A &amp; B')
  t.match(res.body, /Read only<\/strong>: the bot cannot message/)
  t.notMatch(res.body, /EAApage|EAAuser/, 'no token on the page')
  t.notMatch(res.body, 'Your Facebook Pages are connected', 'no success notice without connected=facebook')
})

t.test('only requested scope names are shown as missing', async t => {
  const app = await build(t, { db })
  const { link } = await mintLink(app, 'con-b')
  const res = await app.inject({ url: `/connect?link=${link}&missing=pages_messaging,ads_management` })
  t.match(res.body, 'Some permissions were not granted: pages_messaging.')
  t.notMatch(res.body, 'ads_management')
  t.equal((await app.inject({ url: `/connect?link=${link}&missing=%3Cb%3E` })).statusCode, 400, 'anything but scope names is refused')
})

t.test('a workspace with no Pages says so', async t => {
  const app = await build(t, { db })
  const res = await app.inject({ url: `/connect?link=${(await mintLink(app, 'con-empty')).link}` })
  t.match(res.body, 'No Pages connected yet')
})

t.test('a missing, forged or expired link is a 403 page asking for a new link', async t => {
  let clock = Date.now()
  const app = await build(t, { db, clock: () => clock })
  const link = app.stateToken.issue('connect', 'con-c', { ttlSeconds: 10 })
  for (const url of ['/connect', `/connect?link=${link}x`, `/connect?link=B${link.slice(1)}`]) {
    const res = await app.inject({ url, headers: { accept: 'text/html' } })
    t.equal(res.statusCode, 403, url)
    t.match(res.headers['content-type'], 'text/html')
    t.match(res.body, 'Ask the person who sent it for a new link')
  }
  t.equal((await app.inject({ url: `/connect?link=${link}` })).statusCode, 200)
  clock += 11_000
  const expired = await app.inject({ url: `/connect?link=${link}` })
  t.equal(expired.statusCode, 403)
  t.match(expired.json(), { statusCode: 403, error: 'Forbidden', message: /new link/ })
})

t.test('with Shopify on, the page offers "Connect your Shopify store" and shows the workspace\'s store', async t => {
  const shopifyEnv = { SHOPIFY_API_KEY: 'shopify-key', SHOPIFY_API_SECRET: 'shopify-secret', SHOPIFY_REDIRECT_URI: 'https://connect.example.com/shopify/callback' }
  const off = await build(t, { db })
  const { link: offLink } = await mintLink(off, 'con-shop')
  t.notMatch((await off.inject({ url: `/connect?link=${offLink}` })).body, 'Shopify', 'nothing about Shopify when it is off')

  const app = await build(t, { db, env: shopifyEnv })
  const { link } = await mintLink(app, 'con-shop')
  const before = await app.inject({ url: `/connect?link=${link}` })
  t.match(before.body, '<form method="get" action="/shopify/install">')
  t.match(before.body, `<input type="hidden" name="link" value="${link}">`)
  t.match(before.body, '<button class="button">Connect your Shopify store</button>')
  t.match(before.body, 'No Shopify store connected yet')

  await app.store.shops.saveInstall('con-shop.myshopify.com', 'con-shop', {
    accessToken: 'shpat_x', accessExpiresAt: new Date(Date.now() + 3600_000), refreshToken: 'shprt_x', refreshExpiresAt: null, scopes: ['read_products']
  })
  const after = await app.inject({ url: `/connect?${new URLSearchParams({ link, connected: 'shopify' })}` })
  t.match(after.body, 'Your Shopify store is connected.')
  t.match(after.body, '<strong>con-shop.myshopify.com</strong>: connected, its catalog is syncing', 'not "0 products" before the first sync')
  t.notMatch(after.body, /shpat_|shprt_/)
  t.equal(after.headers['content-security-policy']?.toString().match(/form-action ([^;]+)/)?.[1], "'self' https://*.myshopify.com",
    "the form may lead to the shop's grant screen")
  await app.store.catalog.setSync('con-shop.myshopify.com', 'running')
  t.match((await app.inject({ url: `/connect?${new URLSearchParams({ link })}` })).body, 'connected, its catalog is syncing')
  await app.store.catalog.setSync('con-shop.myshopify.com', 'ok')
  t.match((await app.inject({ url: `/connect?${new URLSearchParams({ link })}` })).body, 'connected, 0 products')
  t.match((await app.inject('/healthz')).headers['content-security-policy'], "form-action 'self';", 'other pages keep the strict policy')
})
