import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { LONG_TOKEN, mockCallbackGraph, PAGES, USER } from '../../graph-mocks.js'
import { ADMIN_TOKEN, build, logCapture, mintLink, mockGraph, startLogin, testDb } from '../../helper.js'

const db = await testDb(t)

type FlowOptions = Parameters<typeof mockCallbackGraph>[1] & { env?: Record<string, string>, workspace?: string }
async function flow (t: Parameters<typeof build>[0], options: FlowOptions = {}) {
  const agent = mockGraph(t)
  const logs = logCapture()
  const app = await build(t, { db, dispatcher: agent, logStream: logs.stream, env: { LOG_LEVEL: 'info', ...options.env } })
  const seen = mockCallbackGraph(agent, options)
  const { link } = await mintLink(app, options.workspace ?? 'cb-main')
  const login = await startLogin(app, link)
  const callback = (query: string, headers: Record<string, string> = {}) =>
    app.inject({ url: `/facebook/callback?${query}`, headers: { cookie: login.cookieHeader, ...headers } })
  return { app, agent, seen, login, link, logs: logs.lines, callback, good: `code=AQcode&state=${login.state}` }
}

const clearsCookie = (t: Tap, res: { headers: Record<string, unknown> }, name: string) =>
  t.match(String(res.headers['set-cookie']), new RegExp(`${name}=;.*Expires=Thu, 01 Jan 1970`), 'the binding cookie is cleared')
type Tap = Parameters<typeof build>[0]

t.test('the whole callback: tokens exchanged, every Page stored, JSON without tokens', async t => {
  const { app, agent, seen, login, callback, good } = await flow(t, { workspace: 'cb-json' })
  const res = await callback(`${good}&unknown=ignored`, { accept: 'application/json' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    workspace: 'cb-json',
    user: USER,
    pages: PAGES.map(({ id, name, category, tasks }) => ({ id, name, category: category ?? '', tasks, canMessage: tasks.includes('MESSAGING') })),
    missingPermissions: []
  })
  t.notMatch(res.body, /EAA|access_token/, 'no token in the answer')
  t.equal(res.headers['cache-control'], 'no-store')
  clearsCookie(t, res, login.cookieName)
  agent.assertNoPendingInterceptors()

  const code = seen.find(s => s.query.has('code'))!.query
  t.equal(code.get('code_verifier'), login.verifier, 'the PKCE verifier from the cookie')
  t.equal(code.get('redirect_uri'), 'https://connect.example.com/facebook/callback', 'the configured redirect_uri')
  t.equal(code.get('client_secret'), 'test-app-secret-0123456789abcdef')
  t.equal(seen.find(s => s.query.get('grant_type') === 'fb_exchange_token')!.query.get('fb_exchange_token'), 'EAAshort-lived')
  const accounts = seen.filter(s => s.path === '/v26.0/me/accounts')
  t.equal(accounts.length, 3, 'three Graph pages followed')
  t.same(accounts.map(a => a.query.get('after')), [null, '2', '4'])
  t.ok(accounts.every(a => a.query.get('access_token') === LONG_TOKEN), 'paging stays on our Graph origin with our token')
  t.equal(accounts[0]!.query.get('fields'), 'id,name,category,tasks,access_token')
  t.equal(accounts[0]!.query.get('limit'), '100')

  const stored = await app.inject({ url: '/admin/workspaces/cb-json/pages', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(stored.json().pages.length, 5)
  t.same(stored.json().pages.find((p: { id: string }) => p.id === '104000000000003'), {
    id: '104000000000003', name: 'Fan Club', category: 'Community', tasks: ['ANALYZE'], canMessage: false, status: 'connected', subscribed: false
  })
})

t.test('a browser gets a 303 to its connect page, which lists the Pages', async t => {
  const { app, callback, good } = await flow(t, { workspace: 'cb-html' })
  const res = await callback(good, { accept: 'text/html,application/xhtml+xml' })
  t.equal(res.statusCode, 303)
  const location = new URL(res.headers.location as string, 'https://connect.example.com')
  t.equal(location.pathname, '/connect')
  t.equal(location.searchParams.get('connected'), 'facebook')
  t.equal(location.searchParams.get('missing'), null)
  t.equal(app.stateToken.verify(location.searchParams.get('link'), 'connect').workspace, 'cb-html')
  const page = await app.inject({ url: `${location.pathname}${location.search}` })
  t.equal(page.statusCode, 200)
  t.match(page.body, 'Your Facebook Pages are connected')
  t.match(page.body, 'Corner Bakery')
  t.match(page.body, 'Stall &lt;b&gt;', 'names are escaped')
})

t.test('declined permissions are reported and the page offers to grant them', async t => {
  const { callback, good } = await flow(t, { workspace: 'cb-declined', granted: ['pages_show_list', 'pages_manage_metadata'] })
  const json = await callback(good)
  t.same(json.json().missingPermissions, ['pages_messaging'])

  const second = await flow(t, { workspace: 'cb-declined', granted: ['pages_show_list'] })
  const res = await second.callback(second.good, { accept: 'text/html' })
  const location = res.headers.location as string
  t.match(location, 'missing=pages_messaging%2Cpages_manage_metadata')
  const page = await second.app.inject({ url: location })
  t.match(page.body, /Some permissions were not granted: pages_messaging, pages_manage_metadata/)
  t.match(page.body, /<a href="\/facebook\/login\?link=[^"]+&amp;rerequest=1">Grant the missing permissions<\/a>/)
})

t.test('without pages_messaging no Page can message, and the connect page says what is missing on every visit', async t => {
  const { app, callback, good, link } = await flow(t, { workspace: 'cb-no-messaging', granted: ['pages_show_list', 'pages_manage_metadata'] })
  const json = (await callback(good)).json()
  t.ok(json.pages.length > 0)
  t.ok(json.pages.every((page: { canMessage: boolean }) => !page.canMessage), 'the MESSAGING task alone is not enough')
  const page = await app.inject({ url: `/connect?link=${encodeURIComponent(link)}` })
  t.match(page.body, /Some permissions were not granted: pages_messaging\./, 'without the callback\'s query')
  t.match(page.body, /Grant the missing permissions/)
  t.match(page.body, 'the pages_messaging permission was not granted')
  t.notMatch(page.body, 'the bot can message its customers')

  const regranted = await flow(t, { workspace: 'cb-no-messaging' })
  await regranted.callback(regranted.good)
  const after = await app.inject({ url: `/connect?link=${encodeURIComponent(link)}` })
  t.notMatch(after.body, 'Some permissions were not granted', 'granted again: nothing missing')
  t.match(after.body, 'the bot can message its customers')
})

t.test('bad query parameters are 400 with no Graph call', async t => {
  const { callback, login, seen } = await flow(t)
  for (const [name, query] of [
    ['a repeated code', `code=a&code=b&state=${login.state}`],
    ['a repeated state', `code=a&state=${login.state}&state=${login.state}`],
    ['an oversize code', `code=${'c'.repeat(3000)}&state=${login.state}`],
    ['an oversize state', `code=a&state=${'s'.repeat(2000)}`],
    ['an oversize error_description', `error=access_denied&error_description=${'d'.repeat(2000)}`]
  ]) {
    const res = await callback(query!)
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', requestId: res.headers['x-request-id'] })
  }
  t.equal(seen.length, 0, 'Graph was not called')
})

t.test('a missing, forged, expired or foreign state is 400 with no Graph call; the cookie is cleared', async t => {
  let clock = Date.now()
  const agent = mockGraph(t)
  const app = await build(t, { db, dispatcher: agent, clock: () => clock, env: { STATE_TOKEN_TTL_SECONDS: '4' } })
  const { link } = await mintLink(app, 'cb-state')
  const login = await startLogin(app, link)
  const call = (query: string) => app.inject({ url: `/facebook/callback?${query}`, headers: { cookie: login.cookieHeader } })
  const cases: Record<string, string> = {
    'no state': 'code=a',
    'no code': `state=${login.state}`,
    'a forged state': `code=a&state=${login.state.slice(0, -3)}abc`,
    'a connect link as state': `code=a&state=${link}`,
    'a state of another provider': `code=a&state=${app.stateToken.issue('shopify', 'cb-state', { ttlSeconds: 60, binding: login.dialog.searchParams.get('code_challenge')! })}`
  }
  for (const [name, query] of Object.entries(cases)) {
    const res = await call(query)
    t.equal(res.statusCode, 400, name)
    clearsCookie(t, res, login.cookieName)
  }
  clock += 5000
  t.equal((await call(`code=a&state=${login.state}`)).statusCode, 400, 'an expired state (TTL 4 s)')
})

t.test("a state that does not match this browser's cookie is 403", async t => {
  const { app, callback, good, login } = await flow(t)
  const other = await startLogin(app, (await mintLink(app, 'cb-main')).link)
  t.equal((await callback(good, { cookie: other.cookieHeader })).statusCode, 403, 'another flow\'s cookie')
  const res = await app.inject({ url: `/facebook/callback?${good}` })
  t.equal(res.statusCode, 403, 'no cookie at all')
  t.match(res.json().message, /another browser/)
  t.equal((await callback(good, { cookie: `${login.cookieName}=${'x'.repeat(200)}` })).statusCode, 403, 'an oversize cookie')
})

t.test("Facebook's denial is a fixed friendly 403, nothing echoed", async t => {
  const { callback, login } = await flow(t)
  const res = await callback(`error=access_denied&error_code=200&error_reason=user_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=${login.state}`)
  t.equal(res.statusCode, 403)
  t.match(res.json().message, /cancelled/)
  t.notMatch(res.body, /script|user_denied|access_denied/)
  clearsCookie(t, res, login.cookieName)
  const html = await callback(`error=access_denied&state=${login.state}`, { accept: 'text/html' })
  t.match(html.headers['content-type'], 'text/html')
  t.match(html.body, /Facebook Login was cancelled/)
})

t.test('Graph refusing the code is 400', async t => {
  const { callback, good } = await flow(t, {
    overrides: { code: { status: 400, body: { error: { message: 'This authorization code has been used.', type: 'OAuthException', code: 100, error_subcode: 36009 } } } }
  })
  const res = await callback(good)
  t.equal(res.statusCode, 400)
  t.match(res.json().message, /expired or was already used/)
  t.notMatch(res.body, /authorization code has been used/, "Facebook's text is not echoed")
})

const upstreamFaults: Array<[string, Parameters<typeof mockCallbackGraph>[1]]> = [
  ['Graph 5xx on the code exchange', { overrides: { code: { status: 500, body: { error: { message: 'Unknown error', type: 'OAuthException', code: 1 } } } } }],
  ['Graph 5xx on the long-lived exchange', { overrides: { exchange: { status: 503, body: 'Service Unavailable' } } }],
  ['a 190 on the fresh token', { overrides: { me: { status: 400, body: { error: { message: 'Error validating access token: secret-detail', type: 'OAuthException', code: 190 } } } } }],
  ['a body that is not JSON', { overrides: { permissions: { status: 200, body: '<html>oops</html>' } } }],
  ['missing fields', { overrides: { accounts: { status: 200, body: { data: [{ id: '1', name: 'No token' }] } } } }]
]
for (const [name, options] of upstreamFaults) {
  t.test(`${name} is 502 with a request id and no upstream text`, async t => {
    const { callback, good } = await flow(t, options)
    const res = await callback(good)
    t.equal(res.statusCode, 502)
    t.same(Object.keys(res.json()).sort(), ['error', 'message', 'requestId', 'statusCode'])
    t.equal(res.json().requestId, res.headers['x-request-id'])
    t.notMatch(res.body, /secret-detail|oops|Unknown error|Service Unavailable|stack/)
  })
}

t.test('a Graph call over GRAPH_TIMEOUT_MS is 504', async t => {
  const { callback, good } = await flow(t, { env: { GRAPH_TIMEOUT_MS: '50' }, overrides: { me: { status: 200, body: USER, delay: 1000 } } })
  const res = await callback(good)
  t.equal(res.statusCode, 504)
  t.match(res.json(), { statusCode: 504, error: 'Gateway Timeout', message: /too long/ })
})

t.test('CALLBACK_TIMEOUT_MS bounds the whole callback even when each call is within its own timeout', async t => {
  const { callback, good } = await flow(t, { env: { GRAPH_TIMEOUT_MS: '5000', CALLBACK_TIMEOUT_MS: '150' }, delay: 60 })
  const res = await callback(good)
  t.equal(res.statusCode, 504)
})

t.test('an error reaches a browser as a small HTML page with the request id', async t => {
  const { callback, good } = await flow(t, { overrides: { exchange: { status: 503, body: 'down' } } })
  const res = await callback(good, { accept: 'text/html' })
  t.equal(res.statusCode, 502)
  t.match(res.headers['content-type'], 'text/html')
  t.match(res.body, /did not answer as expected/)
  t.match(res.body, res.headers['x-request-id'] as string)
})

t.test('connecting Pages from another workspace moves those this user may message for or manage; the rest stay', async t => {
  // The file's tests share one store: the ANALYZE-only Page starts this test in no workspace.
  await db.query("DELETE FROM pages WHERE id = '104000000000003'")
  const first = await flow(t, { workspace: 'cb-move-a' })
  t.equal((await first.callback(first.good)).statusCode, 200)
  const second = await flow(t, { workspace: 'cb-move-b' })
  const res = await second.callback(second.good, { accept: 'application/json' })
  t.equal(res.statusCode, 200)
  const analyzeOnly = PAGES.filter(page => !page.tasks.includes('MESSAGING') && !page.tasks.includes('MANAGE')).map(page => page.id)
  t.same(analyzeOnly, ['104000000000003'], 'the fixture has one Page with only the ANALYZE task')
  const answered = res.json().pages as Array<{ id: string, connectedElsewhere?: boolean }>
  t.same(answered.filter(page => page.connectedElsewhere === true).map(page => page.id), analyzeOnly, 'listed as connected elsewhere')
  t.notMatch(res.body, 'cb-move-a', "the other workspace's name is not told")
  const list = (ws: string) => second.app.inject({ url: `/admin/workspaces/${ws}/pages`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.same((await list('cb-move-a')).json().pages.map((page: { id: string }) => page.id), analyzeOnly)
  t.equal((await list('cb-move-b')).json().pages.length, PAGES.length - 1)
  const moves = second.logs.map(line => JSON.parse(line)).filter(line => line.msg === 'page moved to another workspace')
  t.same(moves.map(line => [line.pageId, line.fromWorkspace, line.toWorkspace]).sort(),
    PAGES.filter(page => !analyzeOnly.includes(page.id)).map(page => [page.id, 'cb-move-a', 'cb-move-b']), 'each move is logged')

  const third = await flow(t, { workspace: 'cb-move-c' })
  const page = await third.callback(third.good, { accept: 'text/html' })
  t.equal(page.statusCode, 303)
  t.match(page.headers.location, '&elsewhere=1')
  const shown = await third.app.inject({ url: page.headers.location as string })
  t.match(shown.body, '1 of your Pages is connected to another workspace')
})

t.test('when one of the concurrent Graph reads fails, the others are cancelled instead of running to the deadline', async t => {
  const cancelled: string[] = []
  const graph = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://graph').pathname.replace(/^\/v\d+\.\d+/, '')
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (path === '/oauth/access_token') return json(200, { access_token: LONG_TOKEN })
    if (path === '/me') return json(500, { error: { message: 'An unexpected error has occurred.', type: 'OAuthException', code: 2 } })
    res.on('close', () => cancelled.push(path))
  })
  await new Promise<void>(resolve => graph.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { graph.closeAllConnections(); graph.close() })
  const app = await build(t, {
    db,
    env: { FACEBOOK_GRAPH_URL: `http://127.0.0.1:${(graph.address() as AddressInfo).port}`, CALLBACK_TIMEOUT_MS: '20000', GRAPH_TIMEOUT_MS: '20000' }
  })
  const login = await startLogin(app, (await mintLink(app, 'cb-cancel')).link)
  const res = await app.inject({ url: `/facebook/callback?code=AQcode&state=${login.state}`, headers: { cookie: login.cookieHeader, accept: 'application/json' } })
  t.equal(res.statusCode, 502)
  for (let i = 0; i < 40 && cancelled.length < 2; i++) await sleep(50)
  t.same(cancelled.sort(), ['/me/accounts', '/me/permissions'], 'the hanging reads were cancelled within two seconds, not after 20')
})

t.test('names from Graph are stored without control or bidi characters: a NUL in a Page name is not a 500', async t => {
  const page = { id: '104000000000099', name: 'Nul\u0000 Page\u202Egnp.exe', category: 'Shop\u0007', tasks: ['MESSAGING'], access_token: 'EAApage-99' }
  const { app, callback, good } = await flow(t, {
    workspace: 'cb-controls',
    overrides: { me: { status: 200, body: { id: USER.id, name: 'Ada\u0000 Owner\u2066' } }, accounts: { status: 200, body: { data: [page], paging: {} } } }
  })
  const res = await callback(good, { accept: 'application/json' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { user: { name: 'Ada Owner' }, pages: [{ id: page.id, name: 'Nul Pagegnp.exe', category: 'Shop' }] })
  const listed = await app.inject({ url: '/admin/workspaces/cb-controls/pages', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.match(listed.json().pages, [{ name: 'Nul Pagegnp.exe', category: 'Shop' }])
})
