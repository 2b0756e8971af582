import { createHmac } from 'node:crypto'
import t from 'tap'
import { signedQueryMessage } from '../../../plugins/shopify/hmac.js'
import { ADMIN_TOKEN, build, mintLink, mockGraph, testDb } from '../../helper.js'

const db = await testDb(t)
const SECRET = 'shopify-secret-0123456789'
const env = { SHOPIFY_API_KEY: 'shopify-key', SHOPIFY_API_SECRET: SECRET, SHOPIFY_REDIRECT_URI: 'https://connect.example.com/shopify/callback' }
const SHOP = 'demo-shop.myshopify.com'
const SHOP_ORIGIN = `https://${SHOP}`
const TOKENS = { access_token: 'shpat_access_0123', scope: 'read_products', expires_in: 3600, refresh_token: 'shprt_refresh_0123', refresh_token_expires_in: 7776000 }

const signed = (params: Record<string, string>, secret = SECRET) => {
  const pairs = Object.entries(params)
  return new URLSearchParams([...pairs, ['hmac', createHmac('sha256', secret).update(signedQueryMessage(pairs)).digest('hex')]]).toString()
}
const nowSeconds = () => String(Math.floor(Date.now() / 1000))

async function setup (t: Parameters<typeof build>[0], extraEnv: Record<string, string> = {}) {
  const agent = mockGraph(t)
  const app = await build(t, { db, shopifyDispatcher: agent, env: { ...env, ...extraEnv } })
  const shopify = agent.get(SHOP_ORIGIN)
  /** Install from a connect link: the state and the binding cookie, as the browser holds them. */
  const install = async (workspace = 'shop-ws') => {
    const { link } = await mintLink(app, workspace)
    const res = await app.inject({ url: `/shopify/install?${new URLSearchParams({ link, shop: SHOP })}` })
    const [cookie] = res.cookies
    return { res, state: new URL(res.headers.location as string).searchParams.get('state')!, cookie: `${cookie!.name}=${cookie!.value}` }
  }
  const callback = (query: string, cookie: string, accept = 'application/json') =>
    app.inject({ url: `/shopify/callback?${query}`, headers: { cookie, accept } })
  const good = (state: string, extra: Record<string, string> = {}) => signed({ code: 'shopify-code', host: 'YWRtaW4', shop: SHOP, state, timestamp: nowSeconds(), ...extra })
  return { app, agent, shopify, install, callback, good }
}

t.test('the Shopify routes are off without SHOPIFY_API_KEY', async t => {
  const app = await build(t, { db })
  t.equal((await app.inject({ url: `/shopify/install?shop=${SHOP}` })).statusCode, 404)
  t.equal((await app.inject({ url: '/shopify/callback' })).statusCode, 404)
})

t.test('install from a connect link: 302 to the grant screen with a signed, browser-bound state for the shop', async t => {
  const { app, install } = await setup(t)
  const { res, state } = await install('shop-ws-install')
  t.equal(res.statusCode, 302)
  t.equal(res.headers['cache-control'], 'no-store')
  const location = new URL(res.headers.location as string)
  t.equal(`${location.origin}${location.pathname}`, `${SHOP_ORIGIN}/admin/oauth/authorize`)
  t.same([...location.searchParams.keys()].sort(), ['client_id', 'redirect_uri', 'scope', 'state'], 'offline access: no grant_options[]')
  t.equal(location.searchParams.get('client_id'), 'shopify-key')
  t.equal(location.searchParams.get('redirect_uri'), env.SHOPIFY_REDIRECT_URI)
  t.equal(location.searchParams.get('scope'), 'read_products')
  t.match(app.stateToken.verify(state, 'shopify'), { workspace: 'shop-ws-install', shop: SHOP })
  t.match(String(res.headers['set-cookie']), /__Host-oauth_binding=.+; Max-Age=300; Path=\/; HttpOnly; Secure; SameSite=Lax/)
})

t.test('install from Shopify: the signed query is the way in, and the state records no workspace', async t => {
  const { app } = await setup(t)
  const res = await app.inject({ url: `/shopify/install?${signed({ shop: SHOP, timestamp: nowSeconds(), host: 'YWRtaW4' })}` })
  t.equal(res.statusCode, 302)
  const state = new URL(res.headers.location as string).searchParams.get('state')
  t.match(app.stateToken.verify(state, 'shopify'), { workspace: '', shop: SHOP })
  t.equal((await app.inject({ url: `/shopify/install?${signed({ shop: SHOP, timestamp: nowSeconds() }, 'another-secret')}` })).statusCode, 400, 'a wrong HMAC')
  t.equal((await app.inject({ url: `/shopify/install?shop=${SHOP}` })).statusCode, 403, 'neither a link nor an HMAC')
  const stale = await app.inject({ url: `/shopify/install?${signed({ shop: SHOP, timestamp: String(Number(nowSeconds()) - 301) })}` })
  t.equal(stale.statusCode, 400, 'a signed install URL older than a state lives')
  t.match(stale.json().message, /expired/)
  t.equal((await app.inject({ url: `/shopify/install?${signed({ shop: SHOP })}` })).statusCode, 400, 'signed, without a timestamp')
  const previous = await setup(t, { SHOPIFY_API_SECRET_PREVIOUS: 'the-old-secret' })
  t.equal((await previous.app.inject({ url: `/shopify/install?${signed({ shop: SHOP, timestamp: nowSeconds() }, 'the-old-secret')}` })).statusCode, 302, 'the previous secret during a rotation')
})

t.test('a shop name that is not name.myshopify.com is 400 with no redirect', async t => {
  const { app } = await setup(t)
  const { link } = await mintLink(app, 'shop-ws-names')
  for (const shop of ['demo.myshopify.com.evil.net', 'demo.myshopify.com@evil.net', 'https://demo.myshopify.com', 'dеmo.myshopify.com', '']) {
    const res = await app.inject({ url: `/shopify/install?${new URLSearchParams({ link, shop })}` })
    t.equal(res.statusCode, 400, shop)
    t.equal(res.headers.location, undefined)
  }
  const admin = await app.inject({ url: `/shopify/install?${new URLSearchParams({ link, shop: ' Admin.Shopify.com/store/Demo-Shop ' })}` })
  t.match(admin.headers.location, `${SHOP_ORIGIN}/admin/oauth/authorize?`, 'the admin URL form becomes the shop')
})

t.test('the callback exchanges the code for an expiring offline token and stores the shop', async t => {
  const { shopify, install, callback, good } = await setup(t)
  const { state, cookie } = await install('shop-ws-callback')
  let sent: Record<string, unknown> = {}
  shopify.intercept({ path: '/admin/oauth/access_token', method: 'POST' }).reply(200, (options) => {
    sent = JSON.parse(String(options.body))
    return TOKENS
  })
  const res = await callback(good(state, { extra: 'signed too' }), cookie)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { workspace: 'shop-ws-callback', shop: SHOP, scopes: ['read_products'], catalog: { status: 'syncing' } })
  t.same(sent, { client_id: 'shopify-key', client_secret: SECRET, code: 'shopify-code', expiring: '1' })
  t.notMatch(res.body, /shpat_|shprt_/)
  t.match(String(res.headers['set-cookie']), /oauth_binding=;/, 'the binding cookie is cleared')
  t.same(await db.query('SELECT shop, workspace_id, status, scopes FROM shops WHERE shop = $1', [SHOP]),
    [{ shop: SHOP, workspace_id: 'shop-ws-callback', status: 'connected', scopes: 'read_products' }])
})

t.test('each check fails with a 4xx before any call to Shopify, and the cookie is cleared every time', async t => {
  const { install, callback, good } = await setup(t)
  const { state, cookie } = await install('shop-ws-refusals')
  const hour = String(Math.floor(Date.now() / 1000) - 3600)
  const signature = /valid Shopify signature/
  const expired = /invalid or has expired/
  const cases: Array<[string, string, RegExp]> = [
    ['a tampered query', good(state).replace('code=shopify-code', 'code=other-code'), signature],
    ['no hmac', `code=c&shop=${SHOP}&state=${state}&timestamp=${nowSeconds()}`, signature],
    ['a parameter given twice', `${good(state)}&shop=${SHOP}`, /querystring\/shop must be string/],
    ['an old timestamp', good(state, { timestamp: hour }), expired],
    ['a timestamp from the future', good(state, { timestamp: String(Math.floor(Date.now() / 1000) + 120) }), expired],
    ['an invalid shop', good(state, { shop: 'evil.net' }), /store's address/],
    ['another shop than the state', good(state, { shop: 'other-shop.myshopify.com' }), expired],
    ['a forged state', good(`${state.slice(0, -2)}AA`), expired]
  ]
  for (const [name, query, message] of cases) {
    const res = await callback(query, cookie)
    t.equal(res.statusCode, 400, name)
    t.match(res.json().message, message, name)
    t.match(String(res.headers['set-cookie']), /oauth_binding=;/, `${name}: cookie cleared`)
  }
  const otherBrowser = await callback(good(state), 'oauth_binding=someone-else')
  t.equal(otherBrowser.statusCode, 403, 'another browser')
})

t.test('Shopify refusing the code is 400; its failures 502 and its silence 504, with a request id', async t => {
  const { shopify, install, callback, good } = await setup(t, { SHOPIFY_TIMEOUT_MS: '200' })
  const answers: Array<[string, (scope: ReturnType<typeof shopify.intercept>) => void, number]> = [
    ['a used code', scope => scope.reply(400, { error: 'invalid_request', error_description: 'The authorization code was not found or was already used' }), 400],
    ['a server error', scope => scope.reply(500, 'oops'), 502],
    ['a slow answer', scope => scope.reply(200, TOKENS).delay(1000), 504],
    ['a non-expiring token', scope => scope.reply(200, { access_token: 'shpat_x', scope: 'read_products' }), 502]
  ]
  for (const [name, answer, status] of answers) {
    const { state, cookie } = await install('shop-ws-upstream')
    answer(shopify.intercept({ path: '/admin/oauth/access_token', method: 'POST' }))
    const res = await callback(good(state), cookie)
    t.equal(res.statusCode, status, name)
    t.match(res.json(), { requestId: /.+/ }, name)
    t.notMatch(res.body, /shopify-code|shpat_|myshopify\.com\/admin/, `${name}: no code, token or upstream URL in the answer`)
  }
})

t.test('granted scopes must cover SHOPIFY_SCOPES; a write scope covers its read scope', async t => {
  const { shopify, install, callback, good } = await setup(t, { SHOPIFY_SCOPES: 'read_products,read_inventory' })
  for (const [scope, status] of [['read_products', 403], ['write_products,read_inventory', 200]] as const) {
    const { state, cookie } = await install('shop-ws-scopes')
    shopify.intercept({ path: '/admin/oauth/access_token', method: 'POST' }).reply(200, { ...TOKENS, scope })
    t.equal((await callback(good(state), cookie)).statusCode, status, scope)
  }
})

t.test('a browser goes back to the connect page, or, installing from Shopify, sees that the operator will finish', async t => {
  const { app, shopify, install, callback, good } = await setup(t)
  const { state, cookie } = await install('shop-ws-html')
  shopify.intercept({ path: '/admin/oauth/access_token', method: 'POST' }).reply(200, TOKENS).times(2)
  const res = await callback(good(state), cookie, 'text/html')
  t.equal(res.statusCode, 303)
  const back = new URL(res.headers.location as string, 'https://connect.example.com')
  t.equal(back.pathname, '/connect')
  t.equal(back.searchParams.get('connected'), 'shopify')
  t.equal(app.stateToken.verify(back.searchParams.get('link'), 'connect').workspace, 'shop-ws-html')

  const fromShopify = await app.inject({ url: `/shopify/install?${signed({ shop: SHOP, timestamp: nowSeconds() })}` })
  const shopState = new URL(fromShopify.headers.location as string).searchParams.get('state')!
  const [bindingCookie] = fromShopify.cookies
  const installed = await callback(good(shopState), `${bindingCookie!.name}=${bindingCookie!.value}`, 'text/html')
  t.equal(installed.statusCode, 200)
  t.match(installed.body, /installed on <strong>demo-shop\.myshopify\.com<\/strong>.*operator/s)
  t.same(await db.query('SELECT workspace_id FROM shops WHERE shop = $1', [SHOP]), [{ workspace_id: 'shop-ws-html' }], 'an install from Shopify keeps the assignment')
})

t.test('a store installed from the Shopify admin is not read until an operator assigns it to a workspace', async t => {
  const { app, agent, callback } = await setup(t)
  const FRESH = 'fresh-shop.myshopify.com'
  const fresh = agent.get(`https://${FRESH}`)
  fresh.intercept({ path: '/admin/oauth/access_token', method: 'POST' }).reply(200, TOKENS)
  let adminCalls = 0
  fresh.intercept({ path: /graphql\.json$/, method: 'POST' }).reply(200, () => { adminCalls++; return { data: null } }).persist()
  const fromShopify = await app.inject({ url: `/shopify/install?${signed({ shop: FRESH, timestamp: nowSeconds() })}` })
  const state = new URL(fromShopify.headers.location as string).searchParams.get('state')!
  const [binding] = fromShopify.cookies
  const query = signed({ code: 'shopify-code', host: 'YWRtaW4', shop: FRESH, state, timestamp: nowSeconds() })
  const res = await callback(query, `${binding!.name}=${binding!.value}`)
  t.equal(res.statusCode, 200)
  t.same(res.json().catalog, { status: 'awaiting_assignment' })
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(adminCalls, 0, 'no webhook subscription, no catalog sync')
  t.same(await db.query('SELECT sync_result FROM shops WHERE shop = $1', [FRESH]), [{ sync_result: null }])

  const assigned = await app.inject({
    method: 'PUT', url: '/admin/workspaces/fresh-ws/shop', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { shop: FRESH }
  })
  t.equal(assigned.statusCode, 200)
  for (let i = 0; i < 100; i++) {
    if (adminCalls > 0) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.ok(adminCalls > 0, 'assigned: its webhooks and catalog are read')
})
