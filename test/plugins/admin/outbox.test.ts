import { createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ADMIN_TOKEN, APP_SECRET, build, GRAPH, mockGraph, testDb } from '../../helper.js'

const db = await testDb(t)
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const HOUR = 3_600_000
const PAGE = '104000000000501'
const page = { id: PAGE, name: 'Reply Page', category: 'Shop', tasks: ['MESSAGING'], canMessage: true, accessToken: 'EAApage-reply' }

async function setup (t: Parameters<typeof build>[0], env: Record<string, string> = {}) {
  const agent = mockGraph(t)
  const app = await build(t, { db, dispatcher: agent, env: { MESSENGER_VERIFY_TOKEN: 'outbox-verify-token-01', ...env } })
  await app.store.pages.saveConnection({ workspace: 'reply-ws', user: { id: '51', name: 'U', accessToken: 'EAAu' }, pages: [page] })
  const sent: Array<{ query: URLSearchParams, body: Record<string, unknown> }> = []
  agent.get(GRAPH).intercept({ path: p => p.startsWith(`/v26.0/${PAGE}/messages?`), method: 'POST' }).reply(options => {
    sent.push({ query: new URL(options.path, GRAPH).searchParams, body: JSON.parse(String(options.body)) })
    return { statusCode: 200, data: JSON.stringify({ recipient_id: 'x', message_id: `m_reply_${sent.length}` }) }
  }).persist()
  const reply = (psid: string, text: string) => app.inject({
    method: 'POST', url: `/admin/workspaces/reply-ws/pages/${PAGE}/conversations/${psid}/messages`, headers: auth, payload: { text }
  })
  return { app, sent, reply }
}
async function conversation (psid: string, ageMs: number) {
  await db.query(`INSERT INTO conversations (page_id, psid, last_customer_message_at) VALUES ($1, $2, $3)
    ON CONFLICT (page_id, psid) DO UPDATE SET last_customer_message_at = excluded.last_customer_message_at`, [PAGE, psid, new Date(Date.now() - ageMs)])
}
async function until (check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) await sleep(20)
}

t.test('a person\'s reply inside the window: 202, then sent as RESPONSE with the Page token and its proof, and listed', async t => {
  const { app, sent, reply } = await setup(t)
  await conversation('7001', HOUR)
  const res = await reply('7001', 'A person here: yes, we have it in blue.')
  t.equal(res.statusCode, 202)
  t.match(res.json(), { id: /^[0-9]+$/, status: 'queued' })
  await until(() => sent.length > 0)
  t.same(sent[0]!.body, { recipient: { id: '7001' }, messaging_type: 'RESPONSE', message: { text: 'A person here: yes, we have it in blue.' } })
  t.equal(sent[0]!.query.get('access_token'), 'EAApage-reply')
  t.equal(sent[0]!.query.get('appsecret_proof'), createHmac('sha256', APP_SECRET).update('EAApage-reply').digest('hex'))
  let items: Array<Record<string, unknown>> = []
  for (let i = 0; i < 100; i++) {
    items = (await app.inject({ url: '/admin/workspaces/reply-ws/outbox?status=sent', headers: auth })).json().items
    if (items.length > 0) break
    await sleep(20)
  }
  t.match(items[0], { id: res.json().id, pageId: PAGE, psid: '7001', source: 'human', status: 'sent', messageId: 'm_reply_1', error: null })
  t.notMatch(JSON.stringify(items), 'EAA', 'never a token')
  const conversations = (await app.inject({ url: `/admin/workspaces/reply-ws/pages/${PAGE}/conversations`, headers: auth })).json()
  t.match(conversations.conversations.find((c: { psid: string }) => c.psid === '7001').messages[0], { mid: 'm_reply_1', direction: 'out' })
})

t.test('outside the window: 409 without the human agent permission; HUMAN_AGENT with it, up to 7 days', async t => {
  await conversation('7002', 30 * HOUR)
  const without = await setup(t)
  const refused = await without.reply('7002', 'too late')
  t.equal(refused.statusCode, 409)
  t.match(refused.json().message, /too old to reply/)
  // Its sender would race the next app's for the Page (and skip the reply as it may not send it): it stops first.
  await without.app.close()
  const withPermission = await setup(t, { MESSENGER_HUMAN_AGENT: 'true' })
  t.equal((await withPermission.reply('7002', 'a day and a bit later')).statusCode, 202)
  await until(() => withPermission.sent.length > 0)
  t.match(withPermission.sent[0]!.body, { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })
  await conversation('7003', 8 * 24 * HOUR)
  t.equal((await withPermission.reply('7003', 'eight days later')).statusCode, 409)
})

t.test('404 for a conversation that does not exist or a Page of another workspace; 400 on a bad body or cursor', async t => {
  const { reply, app } = await setup(t)
  t.equal((await reply('7999', 'hello?')).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: `/admin/workspaces/other-ws/pages/${PAGE}/conversations/7001/messages`, headers: auth, payload: { text: 'x' } })).statusCode, 404)
  t.equal((await reply('7001', '')).statusCode, 400)
  t.equal((await reply('7001', 'x'.repeat(2001))).statusCode, 400)
  t.equal((await app.inject({ url: '/admin/workspaces/reply-ws/outbox?cursor=bm90LWFuLWlk', headers: auth })).statusCode, 400)
  t.equal((await app.inject({ url: '/admin/workspaces/reply-ws/outbox?status=lost', headers: auth })).statusCode, 400)
})

t.test('without Messenger the outbox routes do not exist', async t => {
  const app = await build(t, { db })
  t.equal((await app.inject({ url: '/admin/workspaces/reply-ws/outbox', headers: auth })).statusCode, 404)
})
