import t from 'tap'
import { signedRequest } from '../../../tools/emulator/facebook.js'
import { APP_SECRET, ADMIN_TOKEN, build, testDb } from '../../helper.js'

const db = await testDb(t)
const app = await build(t, { db, env: { PUBLIC_BASE_URL: 'https://bot.example.org' } })
const now = Math.floor(Date.now() / 1000)
const page = (id: string) => ({ id, name: id, category: '', tasks: ['MESSAGING'], canMessage: true, accessToken: `EAA${id}` })
const form = (url: string, value: string) => app.inject({ method: 'POST', url, payload: `signed_request=${encodeURIComponent(value)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
const pages = async (ws: string) => (await app.inject({ url: `/admin/workspaces/${ws}/pages`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json().pages

await app.store.pages.saveConnection({ workspace: 'fd-ws', user: { id: '801', name: 'Leaving', accessToken: 'EAAu801' }, pages: [page('901'), page('902')] })
await app.store.pages.saveConnection({ workspace: 'fd-ws', user: { id: '802', name: 'Staying', accessToken: 'EAAu802' }, pages: [page('903')] })
// 902 is also connected by 802, but its stored token is 801's (801 connected it last).
await db.query("INSERT INTO page_connections (page_id, user_id) VALUES ('902', '802')")
await db.query("INSERT INTO conversations (page_id, psid) VALUES ('901', '7001')")

t.test('forged or malformed signed_requests change nothing', async t => {
  t.equal((await form('/facebook/deauthorize', signedRequest('wrong-secret', { user_id: '801', issued_at: now }))).statusCode, 403)
  t.equal((await form('/facebook/deauthorize', signedRequest(APP_SECRET, { user_id: '801', issued_at: now }, 'HMAC-SHA1'))).statusCode, 403)
  t.equal((await form('/facebook/deauthorize', signedRequest(APP_SECRET, { user_id: '801', issued_at: now - 90 * 86400 }))).statusCode, 403,
    'a genuine request 90 days old')
  t.equal((await form('/facebook/deauthorize', 'garbage')).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: '/facebook/deauthorize', payload: {} })).statusCode, 400)
  t.equal((await pages('fd-ws')).length, 3)
})

t.test('deauthorize removes the Pages only that user connected, with their conversations; shared Pages lose that user\'s token', async t => {
  const res = await form('/facebook/deauthorize', signedRequest(APP_SECRET, { user_id: '801', issued_at: now }))
  t.equal(res.statusCode, 200)
  const left = Object.fromEntries((await pages('fd-ws')).map((p: { id: string, status: string }) => [p.id, p.status]))
  t.same(left, { 902: 'needs_reconnect', 903: 'connected' })
  t.same(await db.query("SELECT token_ciphertext FROM pages WHERE id = '902'"), [{ token_ciphertext: null }], 'the token is deleted, not flagged')
  t.same(await db.query("SELECT psid FROM conversations WHERE page_id = '901'"), [])
  t.same(await db.query("SELECT id FROM facebook_users WHERE id = '801'"), [])
  const removed = await app.inject({ method: 'DELETE', url: '/admin/workspaces/fd-ws/pages/902', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(removed.statusCode, 204, 'a Page whose token was deleted can still be removed')
})

t.test('data deletion deletes the same, answers a status URL and a confirmation code', async t => {
  const res = await form('/facebook/data-deletion', signedRequest(APP_SECRET, { user_id: '802', issued_at: now }))
  t.equal(res.statusCode, 200)
  const { url, confirmation_code: code } = res.json()
  t.match(code, /^[0-9a-f]{24}$/)
  t.equal(url, `https://bot.example.org/facebook/data-deletion/${code}`)
  t.same(await pages('fd-ws'), [], 'the Page only 802 had left is gone')
  const status = await app.inject(new URL(url).pathname)
  t.match(status.json(), { confirmationCode: code, status: 'completed' })
  t.notMatch(status.body, /802|Staying/, 'no personal data on the status page')
  t.equal((await app.inject('/facebook/data-deletion/000000000000000000000000')).statusCode, 404)
  t.equal((await form('/facebook/data-deletion', signedRequest('x', { user_id: '802', issued_at: now }))).statusCode, 403)
  const again = await form('/facebook/data-deletion', signedRequest(APP_SECRET, { user_id: '802', issued_at: now }))
  t.equal(again.json().confirmation_code, code, 'the same request twice: the same confirmation code')
  t.same(await db.query('SELECT count(*)::integer AS n FROM data_deletions'), [{ n: 1 }])
  const other = await form('/facebook/data-deletion', signedRequest(APP_SECRET, { user_id: '802', issued_at: now - 1 }))
  t.not(other.json().confirmation_code, code, 'another request, another code')
})

t.test('the data-deletion status page is rate-limited like the other browser routes', async t => {
  const limited = await build(t, { db, env: { RATE_LIMIT_MAX: '2' } })
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await limited.inject('/facebook/data-deletion/000000000000000000000000')).statusCode)
  t.same(statuses, [404, 404, 429])
})
