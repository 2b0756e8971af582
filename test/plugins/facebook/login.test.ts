import { createHash } from 'node:crypto'
import t from 'tap'
import { build, mintLink, startLogin, testDb } from '../../helper.js'

const db = await testDb(t)

t.test('a valid link redirects to the dialog with every parameter, PKCE and a signed state', async t => {
  const app = await build(t, { db })
  const { link } = await mintLink(app, 'login-a')
  const { res, dialog, state, verifier, cookieName } = await startLogin(app, link)
  t.equal(`${dialog.origin}${dialog.pathname}`, 'https://dialog.test/v26.0/dialog/oauth')
  t.same(Object.fromEntries(dialog.searchParams), {
    client_id: '123456789012345',
    redirect_uri: 'https://connect.example.com/facebook/callback',
    response_type: 'code',
    scope: 'pages_show_list,pages_messaging,pages_manage_metadata',
    code_challenge_method: 'S256',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url')
  })
  t.match(app.stateToken.verify(state, 'facebook'), { workspace: 'login-a', binding: dialog.searchParams.get('code_challenge') })
  t.notMatch(res.headers.location, verifier, 'the PKCE verifier never appears in a URL')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(cookieName, '__Host-oauth_binding')
  const setCookie = String(res.headers['set-cookie'])
  for (const attribute of ['HttpOnly', 'SameSite=Lax', 'Path=/', 'Secure', 'Max-Age=300']) t.match(setCookie, attribute)
})

t.test('rerequest=1 asks Facebook to re-request declined permissions', async t => {
  const app = await build(t, { db })
  const { link } = await mintLink(app, 'login-a')
  const res = await app.inject({ url: `/facebook/login?rerequest=1&link=${link}` })
  t.equal(new URL(res.headers.location as string).searchParams.get('auth_type'), 'rerequest')
  t.equal(new URL((await startLogin(app, link)).res.headers.location as string).searchParams.get('auth_type'), null)
})

t.test('Facebook Login for Business sends config_id instead of scope', async t => {
  const app = await build(t, { db, env: { FACEBOOK_LOGIN_CONFIG_ID: '987654321' } })
  const { dialog } = await startLogin(app, (await mintLink(app, 'login-a')).link)
  t.equal(dialog.searchParams.get('config_id'), '987654321')
  t.equal(dialog.searchParams.get('scope'), null)
})

t.test('every value is URL-encoded', async t => {
  const redirect = 'https://connect.example.com/facebook/callback?tenant=a&b=c%20d'
  const app = await build(t, { db, env: { FACEBOOK_REDIRECT_URI: redirect } })
  const { res, dialog } = await startLogin(app, (await mintLink(app, 'login-a')).link)
  t.match(res.headers.location, `redirect_uri=${encodeURIComponent(redirect)}&`)
  t.equal(dialog.searchParams.get('redirect_uri'), redirect)
})

t.test('over plain http the cookie is not Secure and has no __Host- prefix', async t => {
  const app = await build(t, { db, env: { FACEBOOK_REDIRECT_URI: 'http://127.0.0.1:5000/facebook/callback' } })
  const { res, cookieName } = await startLogin(app, (await mintLink(app, 'login-a')).link)
  t.equal(cookieName, 'oauth_binding')
  t.notMatch(String(res.headers['set-cookie']), 'Secure')
})

t.test('PUBLIC_BASE_URL decides the cookie, not the redirect URI: https there makes it Secure with the __Host- prefix', async t => {
  const app = await build(t, {
    db, env: { FACEBOOK_REDIRECT_URI: 'http://127.0.0.1:5000/facebook/callback', PUBLIC_BASE_URL: 'https://bot.example.org' }
  })
  const { res, cookieName } = await startLogin(app, (await mintLink(app, 'login-a')).link)
  t.equal(cookieName, '__Host-oauth_binding')
  t.match(String(res.headers['set-cookie']), '; Secure;')
})

t.test('without a valid link: 403, no cookie, no redirect', async t => {
  const now = Date.now()
  let clock = now
  const app = await build(t, { db, clock: () => clock })
  const { link } = await mintLink(app, 'login-a')
  const facebookState = app.stateToken.issue('facebook', 'login-a', { ttlSeconds: 60 })
  const expiring = app.stateToken.issue('connect', 'login-a', { ttlSeconds: 60 })
  const cases: Record<string, string> = {
    'no link': '/facebook/login',
    'a forged link': `/facebook/login?link=${link.slice(0, -2)}AA`,
    'a state used as a link': `/facebook/login?link=${facebookState}`,
    'an oversize link': `/facebook/login?link=${'a'.repeat(5000)}`
  }
  // Twice: a link that verified once is remembered, and a refusal must not become an acceptance the second time.
  for (const [name, url] of [...Object.entries(cases), ...Object.entries(cases)]) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, name === 'an oversize link' ? 400 : 403, name)
    t.equal(res.headers['set-cookie'], undefined, `${name}: no cookie`)
    t.equal(res.headers.location, undefined)
  }
  t.equal((await app.inject({ url: `/facebook/login?link=${expiring}` })).statusCode, 302, 'the expiring link, while it lasts')
  clock = now + 61_000
  const expired = await app.inject({ url: `/facebook/login?link=${expiring}` })
  t.equal(expired.statusCode, 403, 'an expired link, though it verified before')
  t.match(expired.json().message, /new link/)
})

t.test('rate limit: one bucket per client over login, callback and connect; health and admin exempt', async t => {
  const app = await build(t, { db, env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' } })
  const { link } = await mintLink(app, 'login-a')
  t.equal((await app.inject({ url: `/connect?link=${link}` })).statusCode, 200)
  t.equal((await app.inject({ url: `/facebook/login?link=${link}` })).statusCode, 302)
  t.equal((await app.inject({ url: '/facebook/callback' })).statusCode, 400)
  const limited = await app.inject({ url: `/facebook/login?link=${link}` })
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  t.match(limited.json(), { statusCode: 429, error: 'Too Many Requests', requestId: limited.headers['x-request-id'] })
  t.equal((await app.inject({ url: `/connect?link=${link}` })).statusCode, 429)
  t.equal((await app.inject({ url: '/facebook/login', remoteAddress: '10.0.0.9' })).statusCode, 403, 'another client has its own bucket')
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
    await mintLink(app, 'login-a')
  }
})

t.test('RATE_LIMIT_MAX=0 turns the limit off', async t => {
  const app = await build(t, { db, env: { RATE_LIMIT_MAX: '0' } })
  for (let i = 0; i < 70; i++) {
    const res = await app.inject({ url: '/facebook/login' })
    if (res.statusCode !== 403) t.fail(`request ${i} answered ${res.statusCode}`)
  }
  t.pass('70 requests, none limited')
})

t.test('X-Forwarded-For from an untrusted peer changes nothing: 100 spoofed addresses share one bucket', async t => {
  const app = await build(t, { db, env: { RATE_LIMIT_MAX: '5', TRUST_PROXY: '10.9.9.9' } })
  const statuses = []
  for (let i = 0; i < 100; i++) {
    statuses.push((await app.inject({ url: '/facebook/login', headers: { 'x-forwarded-for': `198.51.100.${i}` } })).statusCode)
  }
  t.same(statuses.slice(0, 5), [403, 403, 403, 403, 403])
  t.ok(statuses.slice(5).every(status => status === 429), 'the sixth and every later request is limited')
})

t.test('behind a trusted proxy each forwarded client has its own bucket', async t => {
  const app = await build(t, { db, env: { RATE_LIMIT_MAX: '2', TRUST_PROXY: '127.0.0.1' } })
  const from = (client: string) => app.inject({ url: '/facebook/login', headers: { 'x-forwarded-for': client } })
  t.equal((await from('198.51.100.1')).statusCode, 403)
  t.equal((await from('198.51.100.1')).statusCode, 403)
  t.equal((await from('198.51.100.1')).statusCode, 429)
  t.equal((await from('198.51.100.2')).statusCode, 403, 'another client behind the same proxy is not limited')
})
