import t from 'tap'
import { ADMIN_TOKEN, build, testDb } from '../../helper.js'

const db = await testDb(t)
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const page = (id: string) => ({ id, name: `Page ${id}`, category: 'Shop', tasks: ['MESSAGING'], canMessage: true, accessToken: `EAApage-${id}` })

t.test('every admin route is 401 without the right bearer token', async t => {
  const app = await build(t, { db })
  const routes: Array<['GET' | 'POST' | 'DELETE', string]> = [
    ['POST', '/admin/workspaces/acme/connect-links'],
    ['GET', '/admin/workspaces'],
    ['GET', '/admin/workspaces/acme/pages'],
    ['DELETE', '/admin/workspaces/acme/pages/1']
  ]
  for (const [method, url] of routes) {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${ADMIN_TOKEN}x`, ADMIN_TOKEN, `Basic ${ADMIN_TOKEN}`]) {
      const res = await app.inject({ method, url, headers: authorization === undefined ? {} : { authorization } })
      t.equal(res.statusCode, 401, `${method} ${url} with ${authorization === undefined ? 'no header' : 'a wrong header'}`)
      t.match(res.json(), { statusCode: 401, error: 'Unauthorized', requestId: res.headers['x-request-id'] })
    }
  }
})

t.test('the Bearer scheme is case-insensitive, the token is not', async t => {
  const app = await build(t, { db })
  for (const authorization of [`bearer ${ADMIN_TOKEN}`, `BEARER ${ADMIN_TOKEN}`, `Bearer  ${ADMIN_TOKEN}`]) {
    t.equal((await app.inject({ url: '/admin/workspaces', headers: { authorization } })).statusCode, 200, authorization.split(' ')[0])
  }
  t.equal((await app.inject({ url: '/admin/workspaces', headers: { authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` } })).statusCode, 401)
})

t.test('a cursor this API did not give out is 400, never a 500', async t => {
  const app = await build(t, { db })
  await app.store.pages.saveConnection({ workspace: 'adm-cursor', user: { id: '8', name: 'U', accessToken: 'EAAuser' }, pages: [page('601')] })
  const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  for (const bad of [['1', 'x'], ['2026-02-30T00:00:00.000Z', 'x'], ['2026-12-01', 'x'], [null, 'x'.repeat(65)], [null, 5], 'x', null]) {
    const res = await app.inject({ url: `/admin/workspaces/adm-cursor/pages/601/conversations?cursor=${cursor(bad)}`, headers: auth })
    t.equal(res.statusCode, 400, JSON.stringify(bad))
  }
  const good = await app.inject({ url: `/admin/workspaces/adm-cursor/pages/601/conversations?cursor=${cursor(['2026-12-01T10:00:00.000Z', 'x'])}`, headers: auth })
  t.equal(good.statusCode, 200)
})

t.test('minting a link creates the workspace and answers the connect URL and expiry', async t => {
  const app = await build(t, { db, env: { PUBLIC_BASE_URL: 'https://bot.example.org', CONNECT_LINK_TTL_SECONDS: '3600' } })
  const before = Date.now()
  const res = await app.inject({ method: 'POST', url: '/admin/workspaces/adm-new/connect-links', headers: auth })
  t.equal(res.statusCode, 201)
  const { url, expiresAt } = res.json()
  t.same(Object.keys(res.json()).sort(), ['expiresAt', 'url'])
  t.match(url, /^https:\/\/bot\.example\.org\/connect\?link=[A-Za-z0-9_.-]+$/)
  const claims = app.stateToken.verify(new URL(url).searchParams.get('link'), 'connect')
  t.equal(claims.workspace, 'adm-new')
  t.equal(new Date(expiresAt).getTime(), claims.exp * 1000)
  t.ok(Math.abs(claims.exp * 1000 - (before + 3_600_000)) < 5000, 'expires after CONNECT_LINK_TTL_SECONDS')
  t.match(expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const list = await app.inject({ url: '/admin/workspaces', headers: auth })
  t.same(list.json().workspaces.find((w: { id: string }) => w.id === 'adm-new'), { id: 'adm-new', pageCount: 0 })
})

t.test('workspace ids outside the pattern are 400', async t => {
  const app = await build(t, { db })
  for (const id of ['Acme', '-acme', 'a_b', 'x'.repeat(64), '%C3%A9t%C3%A9']) {
    const res = await app.inject({ method: 'POST', url: `/admin/workspaces/${id}/connect-links`, headers: auth })
    t.equal(res.statusCode, 400, id)
  }
  t.equal((await app.inject({ method: 'POST', url: `/admin/workspaces/${'x'.repeat(63)}/connect-links`, headers: auth })).statusCode, 201)
})

t.test('pages are listed without tokens, an unknown workspace has none, deletion is 204 then 404', async t => {
  const app = await build(t, { db })
  await app.store.pages.saveConnection({ workspace: 'adm-pages', user: { id: '7', name: 'U', accessToken: 'EAAuser' }, pages: [page('501'), page('502')] })
  const res = await app.inject({ url: '/admin/workspaces/adm-pages/pages', headers: auth })
  t.same(res.json(), {
    pages: [
      { id: '501', name: 'Page 501', category: 'Shop', tasks: ['MESSAGING'], canMessage: true, status: 'connected', subscribed: false },
      { id: '502', name: 'Page 502', category: 'Shop', tasks: ['MESSAGING'], canMessage: true, status: 'connected', subscribed: false }
    ]
  })
  t.notMatch(res.body, 'EAA')
  t.same((await app.inject({ url: '/admin/workspaces/nobody-here/pages', headers: auth })).json(), { pages: [] })

  const del = await app.inject({ method: 'DELETE', url: '/admin/workspaces/adm-pages/pages/501', headers: auth })
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  const again = await app.inject({ method: 'DELETE', url: '/admin/workspaces/adm-pages/pages/501', headers: auth })
  t.equal(again.statusCode, 404)
  t.match(again.json(), { statusCode: 404, error: 'Not Found' })
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/workspaces/other/pages/502', headers: auth })).statusCode, 404, 'not from another workspace')
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/workspaces/adm-pages/pages/abc', headers: auth })).statusCode, 400)
  const counts = (await app.inject({ url: '/admin/workspaces', headers: auth })).json().workspaces
  t.same(counts.find((w: { id: string }) => w.id === 'adm-pages'), { id: 'adm-pages', pageCount: 1 })
})
