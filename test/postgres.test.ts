import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { openStore } from '../plugins/store/index.js'
import { MIGRATIONS } from '../plugins/store/migrations.js'
import { mockCallbackGraph } from './graph-mocks.js'
import { build, logCapture, mintLink, mockGraph, POSTGRES_SKIP, startLogin, testPostgresUrl } from './helper.js'
import { startTcpProxy } from './tcp-proxy.js'

const url = await testPostgresUrl(t)
const skip = url === undefined ? POSTGRES_SKIP : false

t.test('replicas starting together migrate once, under the advisory lock', { skip }, async t => {
  const key = randomBytes(32).toString('hex')
  const opened = await Promise.all(Array.from({ length: 4 }, () => openStore({ databaseUrl: url!, poolSize: 2, encryptionKeys: key })))
  t.teardown(() => Promise.all(opened.map(({ db }) => db.close())))
  t.same(await opened[0]!.db.query('SELECT version FROM schema_migrations ORDER BY version'), MIGRATIONS.map(({ version }) => ({ version })))
  await Promise.all(opened.map(({ store }) => store.ping()))
})

t.test('DATABASE_URL: the database going away is 503 on /readyz and the callback, and the service recovers', { skip }, async t => {
  const target = new URL(url!)
  const proxy = await startTcpProxy(Number(target.port))
  t.teardown(proxy.close)
  target.host = `127.0.0.1:${proxy.port}`
  const agent = mockGraph(t)
  const logs = logCapture()
  const app = await build(t, { dispatcher: agent, logStream: logs.stream, env: { DATABASE_URL: target.toString(), DATABASE_POOL_SIZE: '3', LOG_LEVEL: 'warn' } })
  t.equal((await app.inject('/readyz')).statusCode, 200)

  const login = await startLogin(app, (await mintLink(app, 'pg-down')).link)
  mockCallbackGraph(agent)
  proxy.cut()
  await sleep(1100) // readiness is reused for a second
  t.equal((await app.inject('/readyz')).statusCode, 503, 'not ready while the database is away')
  const callback = await app.inject({ url: `/facebook/callback?code=AQ&state=${login.state}`, headers: { cookie: login.cookieHeader } })
  t.equal(callback.statusCode, 503)
  t.match(callback.json(), { statusCode: 503, error: 'Service Unavailable', message: /cannot reach its database/, requestId: String })
  t.equal((await app.inject('/healthz')).statusCode, 200, 'the process lives on')

  proxy.restore()
  await sleep(1100)
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready again once the database is back')
  const retry = await startLogin(app, (await mintLink(app, 'pg-down')).link)
  mockCallbackGraph(agent)
  const again = await app.inject({ url: `/facebook/callback?code=AQ&state=${retry.state}`, headers: { cookie: retry.cookieHeader } })
  t.equal(again.statusCode, 200, 'a new callback succeeds')
  t.ok(logs.lines.length > 0, 'the outage was logged')
  t.notOk(logs.lines.some(line => line.includes(target.toString())), 'the database URL stays out of the log')
})

t.test('replicas share the inbox: concurrent claims never take an item twice', { skip }, async t => {
  const key = randomBytes(32).toString('hex')
  const replicas = await Promise.all([0, 1, 2].map(() => openStore({ databaseUrl: url!, poolSize: 3, encryptionKeys: key })))
  t.teardown(() => Promise.all(replicas.map(({ db }) => db.close())))
  const [first] = replicas
  await first!.db.query("INSERT INTO inbox (source, body) SELECT 'messenger', '{}' FROM generate_series(1, 300)")
  const claimed = await Promise.all(replicas.map(async ({ store }) => {
    const ids: string[] = []
    for (let batch = await store.inbox.claim('messenger', 7); batch.length > 0; batch = await store.inbox.claim('messenger', 7)) ids.push(...batch.map(item => item.id))
    return ids
  }))
  const all = claimed.flat()
  t.equal(all.length, 300, 'every item claimed')
  t.equal(new Set(all).size, 300, 'none claimed twice')
  t.ok(claimed.filter(ids => ids.length > 0).length >= 2, `the work was shared (${claimed.map(ids => ids.length).join(', ')})`)
})
