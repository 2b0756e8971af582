import { createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { SUBSCRIBED_FIELDS } from '../../../plugins/facebook/page-subscriptions.js'
import { mockCallbackGraph, PAGES } from '../../graph-mocks.js'
import { ADMIN_TOKEN, APP_SECRET, build, GRAPH, mintLink, mockGraph, startLogin, testDb } from '../../helper.js'

const db = await testDb(t)
const env = { MESSENGER_VERIFY_TOKEN: 'verify-token-0123456789' }
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const [ok1, failing, revoked, noMessaging, ok2] = PAGES.map(page => page.id) as [string, string, string, string, string]
// One app for the file: its TOKEN_ENCRYPTION_KEY must open the tokens the first test stores.
const agent = mockGraph(t)
const app = await build(t, { db, dispatcher: agent, env })
const pool = agent.get(GRAPH)

t.test('connecting subscribes every Page that can message; one failure does not fail the callback', async t => {
  mockCallbackGraph(agent)
  const subscribeCalls: URLSearchParams[] = []
  const answers: Record<string, [number, object]> = {
    [ok1]: [200, { success: true }],
    [failing]: [500, { error: { message: 'Unknown error', type: 'OAuthException', code: 2 } }],
    104000000000004: [400, { error: { message: 'Error validating access token', type: 'OAuthException', code: 190 } }],
    [ok2]: [200, { success: true }]
  }
  pool.intercept({ method: 'POST', path: p => /^\/v26\.0\/\d+\/subscribed_apps\?/.test(p) }).reply(({ path }) => {
    const id = path.split('/')[2]!
    subscribeCalls.push(new URL(path, GRAPH).searchParams)
    const [statusCode, body] = answers[id]!
    return { statusCode, data: JSON.stringify(body) }
  }).times(4)

  const login = await startLogin(app, (await mintLink(app, 'sub-ws')).link)
  const res = await app.inject({ url: `/facebook/callback?code=AQ&state=${login.state}`, headers: { cookie: login.cookieHeader } })
  t.equal(res.statusCode, 200)
  const subscribed = Object.fromEntries(res.json().pages.map((p: { id: string, subscribed: boolean }) => [p.id, p.subscribed]))
  t.same(subscribed, { [ok1]: true, [failing]: false, [revoked]: false, [noMessaging]: false, [ok2]: true })
  t.equal(subscribeCalls.length, 4, 'the Page without the MESSAGING task is not subscribed')
  for (const query of subscribeCalls) {
    t.equal(query.get('subscribed_fields'), 'messages,messaging_postbacks,message_reads,messaging_optins,messaging_handovers,standby')
    const token = query.get('access_token')!
    t.match(token, /^EAApage-/, 'the Page token')
    t.equal(query.get('appsecret_proof'), createHmac('sha256', APP_SECRET).update(token).digest('hex'))
  }

  const pages = (await app.inject({ url: '/admin/workspaces/sub-ws/pages', headers: auth })).json().pages
  const byId = Object.fromEntries(pages.map((p: { id: string }) => [p.id, p]))
  t.match(byId['104000000000004'], { subscribed: false, status: 'needs_reconnect' }, '190 on a Page token marks it needs_reconnect')
  t.match(byId[failing], { subscribed: false, status: 'connected' })
  t.match(byId[ok1], { subscribed: true, status: 'connected' })
})

t.test('the admin API retries a subscription, and unsubscribes before removing a Page', async t => {
  pool.intercept({ method: 'POST', path: p => p.startsWith(`/v26.0/${failing}/subscribed_apps?`) }).reply(200, { success: true })
  const retry = await app.inject({ method: 'POST', url: `/admin/workspaces/sub-ws/pages/${failing}/subscribe`, headers: auth })
  t.equal(retry.statusCode, 200)
  t.same(retry.json(), { id: failing, subscribed: true })
  t.match((await app.inject({ url: '/admin/workspaces/sub-ws/pages', headers: auth })).json().pages.find((p: { id: string }) => p.id === failing), { subscribed: true })

  pool.intercept({ method: 'POST', path: p => p.startsWith(`/v26.0/${ok1}/subscribed_apps?`) }).reply(503, 'down')
  const failed = await app.inject({ method: 'POST', url: `/admin/workspaces/sub-ws/pages/${ok1}/subscribe`, headers: auth })
  t.equal(failed.statusCode, 502)
  t.equal((await app.inject({ method: 'POST', url: `/admin/workspaces/other/pages/${ok1}/subscribe`, headers: auth })).statusCode, 404)

  let unsubscribed = ''
  pool.intercept({ method: 'DELETE', path: p => { if (p.startsWith(`/v26.0/${ok2}/subscribed_apps?`)) { unsubscribed = p; return true } return false } })
    .reply(500, { error: { message: 'Unknown error', type: 'OAuthException', code: 2 } })
  const removed = await app.inject({ method: 'DELETE', url: `/admin/workspaces/sub-ws/pages/${ok2}`, headers: auth })
  t.equal(removed.statusCode, 204, 'removed although the unsubscribe failed')
  t.match(unsubscribed, 'access_token=EAApage-', 'the unsubscribe was sent with the Page token')
  t.notOk((await app.inject({ url: '/admin/workspaces/sub-ws/pages', headers: auth })).json().pages.some((p: { id: string }) => p.id === ok2))
})

t.test('Pages subscribed before the fields changed are subscribed again once, at the next start', async t => {
  const pageId = '104000000000777'
  await app.store.pages.saveConnection({
    workspace: 'resub-ws',
    user: { id: '77', name: 'U', accessToken: 'EAAu' },
    pages: [{ id: pageId, name: 'Old Page', category: 'Shop', tasks: ['MESSAGING'], canMessage: true, accessToken: 'EAApage-old' }]
  })
  await db.query('UPDATE pages SET subscribed = true, subscribed_fields = NULL WHERE id = $1', [pageId])
  const seen: string[] = []
  let answer: [number, object] = [500, { error: { message: 'Unknown error', code: 2 } }]
  const nextAgent = mockGraph(t)
  nextAgent.get(GRAPH).intercept({ method: 'POST', path: p => p.startsWith(`/v26.0/${pageId}/subscribed_apps?`) }).reply(({ path }) => {
    seen.push(new URL(path, GRAPH).searchParams.get('subscribed_fields')!)
    return { statusCode: answer[0], data: JSON.stringify(answer[1]) }
  }).persist()
  const waitForCalls = async (count: number) => { for (let i = 0; i < 100 && seen.length < count; i++) await sleep(20) }

  const failing = await build(t, { db, dispatcher: nextAgent, config: app.config })
  await waitForCalls(1)
  await failing.close()
  t.equal(seen.length, 1, 'tried at start')
  answer = [200, { success: true }]
  const next = await build(t, { db, dispatcher: nextAgent, config: app.config })
  await waitForCalls(2)
  await next.close()
  t.same(seen, [SUBSCRIBED_FIELDS, SUBSCRIBED_FIELDS], 'a failure is tried again at the following start, with the new fields')
  const again = await build(t, { db, dispatcher: nextAgent, config: app.config })
  await sleep(200)
  await again.close()
  t.equal(seen.length, 2, 'once subscribed with the current fields, not again')
})
