import { connect, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import type { Db } from '../plugins/store/db.js'
import { ADMIN_TOKEN, build, testDb } from './helper.js'

const db = await testDb(t)

/** The shared database, failing on demand: what a store outage looks like from the app. */
function flakyDb (): Db & { down: boolean } {
  const flaky = {
    down: false,
    query: (sql: string, params?: unknown[]) => flaky.down ? Promise.reject(new Error('connection refused: db-password=hunter2')) : db.query(sql, params),
    exec: (sql: string) => db.exec(sql),
    transaction: db.transaction.bind(db),
    close: async () => {}
  }
  return flaky as Db & { down: boolean }
}

t.test('GET / and /healthz answer 200', async t => {
  const app = await build(t, { db })
  const root = await app.inject('/')
  t.equal(root.statusCode, 200)
  t.match(root.json(), { status: 'ok', message: String })
  t.equal((await app.inject('/healthz')).statusCode, 200)
})

t.test('/readyz follows the store, asking it at most once a second however often it is asked', async t => {
  const flaky = flakyDb()
  const app = await build(t, { db: flaky })
  let pings = 0
  const ping = app.store.ping
  app.store.ping = () => { pings++; return ping() }
  const answers = await Promise.all(Array.from({ length: 50 }, () => app.inject('/readyz')))
  t.same(new Set(answers.map(res => res.statusCode)), new Set([200]))
  t.equal(pings, 1, '50 probes, one query')
  flaky.down = true
  await sleep(1100)
  const down = await app.inject('/readyz')
  t.equal(down.statusCode, 503)
  t.notMatch(down.body, 'hunter2')
  flaky.down = false
  await sleep(1100)
  t.equal((await app.inject('/readyz')).statusCode, 200, 'recovers')
})

t.test('an unexpected failure is a generic 500 with a request id and nothing internal', async t => {
  const flaky = flakyDb()
  const app = await build(t, { db: flaky })
  flaky.down = true
  const res = await app.inject({ url: '/admin/workspaces', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Something went wrong on our side. Please try again later.', requestId: res.headers['x-request-id'] })
})

t.test('every response carries the security headers and its own request id', async t => {
  const app = await build(t, { db })
  const ids = new Set<string>()
  for (const url of ['/', '/healthz', '/nowhere', '/connect', '/facebook/callback?code=a']) {
    const res = await app.inject(url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
    t.equal(res.headers['referrer-policy'], 'no-referrer', url)
    t.match(res.headers['content-security-policy'], "frame-ancestors 'none'", url)
    t.match(res.headers['content-security-policy'], "default-src 'none'", url)
    t.equal(res.headers['x-frame-options'], 'DENY', url)
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, url)
    ids.add(res.headers['x-request-id'] as string)
    if (res.statusCode >= 400) t.equal(res.json().requestId, res.headers['x-request-id'], `${url}: body and header agree`)
  }
  t.equal(ids.size, 5)
})

t.test('404 never echoes the URL', async t => {
  const app = await build(t, { db })
  const res = await app.inject('/secret-path?code=AQsecret&state=xyz')
  t.equal(res.statusCode, 404)
  t.same(Object.keys(res.json()).sort(), ['error', 'message', 'requestId', 'statusCode'])
  t.notMatch(res.body, /secret|AQ|xyz/)
  const html = await app.inject({ url: '/secret-path?code=AQsecret', headers: { accept: 'text/html' } })
  t.match(html.headers['content-type'], 'text/html')
  t.notMatch(html.body, /secret/)
})

t.test('a client-sent X-Request-Id is ignored unless it comes from a trusted proxy', async t => {
  const direct = await build(t, { db })
  t.not((await direct.inject({ url: '/healthz', headers: { 'x-request-id': 'proxy-id-1' } })).headers['x-request-id'], 'proxy-id-1')
  const proxied = await build(t, { db, env: { TRUST_PROXY: '127.0.0.1' } })
  t.equal((await proxied.inject({ url: '/healthz', headers: { 'x-request-id': 'proxy-id-1' } })).headers['x-request-id'], 'proxy-id-1')
  t.not((await proxied.inject({ url: '/healthz', remoteAddress: '10.1.2.3', headers: { 'x-request-id': 'proxy-id-1' } })).headers['x-request-id'], 'proxy-id-1')
  t.not((await proxied.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\nwith newline' } })).headers['x-request-id'], 'bad id\nwith newline')
})

t.test('no CORS headers unless the Origin is listed', async t => {
  const closed = await build(t, { db })
  t.equal((await closed.inject({ url: '/', headers: { origin: 'https://app.example.com' } })).headers['access-control-allow-origin'], undefined)
  const open = await build(t, { db, env: { CORS_ORIGINS: 'https://app.example.com,https://admin.example.com' } })
  t.equal((await open.inject({ url: '/', headers: { origin: 'https://admin.example.com' } })).headers['access-control-allow-origin'], 'https://admin.example.com')
  t.equal((await open.inject({ url: '/', headers: { origin: 'https://evil.example.com' } })).headers['access-control-allow-origin'], undefined)
})

t.test('while draining, answers in flight close their connection and idle keep-alive sockets get nothing but 503 or a close', async t => {
  const { mockCallbackGraph } = await import('./graph-mocks.js')
  const { mintLink, mockGraph, startLogin } = await import('./helper.js')
  const { Client } = await import('undici')
  const agent = mockGraph(t)
  const app = await build(t, { db, dispatcher: agent })
  mockCallbackGraph(agent, { delay: 150 })
  const login = await startLogin(app, (await mintLink(app, 'drain-ws')).link)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const probe = new Client(origin)
  const slow = new Client(origin)
  t.teardown(() => Promise.all([probe.destroy(), slow.destroy()]))
  const before = await probe.request({ method: 'GET', path: '/readyz' })
  await before.body.dump()
  t.equal(before.statusCode, 200)
  t.not(before.headers.connection, 'close', 'no Connection: close before the drain')

  const inFlight = slow.request({ method: 'GET', path: `/facebook/callback?code=AQ&state=${login.state}`, headers: { cookie: login.cookieHeader } })
  await new Promise(resolve => setTimeout(resolve, 50))
  const closing = app.close()
  const during = await probe.request({ method: 'GET', path: '/readyz' }).then(async res => { await res.body.dump(); return res.statusCode }, () => 'closed')
  t.ok(during === 'closed' || during === 503, `the idle kept-alive socket is closed or answered 503 (${during})`)
  const answer = await inFlight
  await answer.body.dump()
  t.equal(answer.statusCode, 200, 'the request in flight completes')
  t.equal(answer.headers.connection, 'close')
  await closing
})

t.test('REQUEST_TIMEOUT_MS: a silent connection and a request that trickles in are both closed', async t => {
  const app = await build(t, { db, env: { REQUEST_TIMEOUT_MS: '600' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  /** Resolves with the ms until the server closed the socket and what it wrote before, after `talk` ran on it. */
  const closedAfter = (talk: (socket: Socket) => void) => new Promise<{ ms: number, answer: string }>((resolve, reject) => {
    const started = Date.now()
    let answer = ''
    const socket = connect(port, '127.0.0.1', () => talk(socket))
    socket.on('data', chunk => { answer += String(chunk) })
    socket.on('close', () => resolve({ ms: Date.now() - started, answer }))
    socket.on('error', () => {})
    setTimeout(() => { socket.destroy(); reject(new Error('still open after 10 s')) }, 10_000).unref()
  })
  const silent = await closedAfter(() => {})
  t.ok(silent.ms < 3000, `a connection that sends nothing is closed (${silent.ms} ms)`)
  const slow = await closedAfter(socket => {
    socket.write('POST /facebook/deauthorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n')
    const drip = setInterval(() => { if (!socket.destroyed) socket.write('a') }, 100)
    socket.on('close', () => clearInterval(drip))
  })
  t.ok(slow.ms < 5000, `a body that trickles in is cut off (${slow.ms} ms)`)
  t.match(slow.answer, /^(HTTP\/1\.1 408|)/, 'answered 408 or closed')
})

t.test('refusals before routing (a malformed URL, an overlong parameter, oversized headers) look like every other error', async t => {
  const app = await build(t, { db })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const cases: Array<[string, number, Record<string, string>]> = [
    ['/%zz-SECRET-PATH', 400, {}],
    [`/admin/workspaces/${'w'.repeat(120)}/pages`, 414, { authorization: `Bearer ${ADMIN_TOKEN}` }],
    ['/healthz', 431, { 'x-big': 'b'.repeat(20_000) }]
  ]
  for (const [path, status, headers] of cases) {
    const res = await request(`http://127.0.0.1:${port}${path}`, { headers })
    const body = await res.body.json() as Record<string, unknown>
    t.equal(res.statusCode, status, `${status}`)
    t.match(res.headers['content-security-policy'], "default-src 'none'", `${status}: the security headers`)
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${status}: a request id`)
    t.same(Object.keys(body).sort(), ['error', 'message', 'requestId', 'statusCode'], `${status}: the usual shape`)
    t.equal(body.requestId, res.headers['x-request-id'])
    t.notMatch(JSON.stringify(body), /SECRET-PATH|wwwww/, `${status}: the URL is not echoed`)
  }
})
