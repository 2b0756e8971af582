import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ADMIN_TOKEN, build, postSignedDelivery, testDb } from '../../helper.js'

const db = await testDb(t)
const env = { MESSENGER_VERIFY_TOKEN: 'verify-token-0123456789' }
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
type App = Awaited<ReturnType<typeof build>>

const PAGE = '104000000000101'
const OTHER_PAGE = '104000000000102'
const now = Date.now()
const item = (psid: string, mid: string, text: string, at = now, echo = false) => ({
  sender: { id: echo ? PAGE : psid },
  recipient: { id: echo ? psid : PAGE },
  timestamp: at,
  message: { mid, text, ...(echo ? { is_echo: true } : {}) }
})
const delivery = (entries: Array<{ id: string, messaging: unknown[] }>) => JSON.stringify({ object: 'page', entry: entries.map(e => ({ time: now, ...e })) })

async function deliver (app: App, body: string) {
  const status = await postSignedDelivery(app, body)
  if (status !== 200) throw new Error(`webhook answered ${status}`)
}
async function settled () {
  for (let i = 0; i < 100; i++) {
    const [row] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM inbox WHERE parked_at IS NULL AND last_error IS NULL')
    if (row!.n === 0) return
    await sleep(50)
  }
  throw new Error('the inbox was not processed')
}
const conversations = async (app: App, query = '', page = PAGE) =>
  app.inject({ url: `/admin/workspaces/inbox-ws/pages/${page}/conversations${query}`, headers: auth })

/** The mids the emitter announces while `t` runs. */
function heardMids (t: Parameters<typeof build>[0]): string[] {
  const heard: string[] = []
  const listener = (event: { mid: string }) => heard.push(event.mid)
  app.messenger.on('message', listener)
  t.teardown(() => app.messenger.off('message', listener))
  return heard
}

const app = await build(t, { db, env })
await app.store.pages.saveConnection({
  workspace: 'inbox-ws',
  user: { id: '77', name: 'U', accessToken: 'EAAu' },
  pages: [PAGE, OTHER_PAGE].map(id => ({ id, name: id, category: '', tasks: ['MESSAGING'], canMessage: true, accessToken: `EAA${id}` }))
})

t.test('a customer message becomes a conversation with an open window, and the emitter hears it once', async t => {
  const heard = heardMids(t)
  const body = delivery([{ id: PAGE, messaging: [item('5001', 'm-5001-a', 'Do you have sourdough? 🍞 ñ')] }])
  await deliver(app, body)
  await deliver(app, body)
  await settled()
  const res = await conversations(app)
  t.equal(res.statusCode, 200)
  const conversation = res.json().conversations.find((c: { psid: string }) => c.psid === '5001')
  t.match(conversation, { psid: '5001', windowOpen: true, firstMessageAt: new Date(now).toISOString(), lastCustomerMessageAt: new Date(now).toISOString() })
  t.same(conversation.messages, [{ mid: 'm-5001-a', direction: 'in', text: 'Do you have sourdough? 🍞 ñ', at: new Date(now).toISOString() }])
  t.same(heard, ['m-5001-a'], 'a redelivered mid is processed once')
})

t.test('echoes are the Page\'s own messages and do not move the window; old interactions close it', async t => {
  const old = now - 25 * 3600 * 1000
  await deliver(app, delivery([{ id: PAGE, messaging: [item('5002', 'm-5002-a', 'hello', old), item('5002', 'm-5002-b', 'We do!', now, true)] }]))
  await settled()
  const conversation = (await conversations(app)).json().conversations.find((c: { psid: string }) => c.psid === '5002')
  t.equal(conversation.lastCustomerMessageAt, new Date(old).toISOString())
  t.equal(conversation.windowOpen, false, 'last customer interaction over 24 h ago')
  t.same(conversation.messages.map((m: { direction: string }) => m.direction), ['out', 'in'])
})

t.test('a batch of several entries, postbacks and attachments; events for an unknown Page are dropped', async t => {
  await deliver(app, delivery([
    { id: PAGE, messaging: [{ sender: { id: '5003' }, recipient: { id: PAGE }, timestamp: now, postback: { mid: 'm-5003-p', title: 'Show promotions', payload: 'PROMOS' } }] },
    { id: OTHER_PAGE, messaging: [{ sender: { id: '5004' }, recipient: { id: OTHER_PAGE }, timestamp: now, message: { mid: 'm-5004-a', attachments: [{ type: 'image' }] } }] },
    { id: '999999999999', messaging: [item('5005', 'm-5005-a', 'to nobody')] }
  ]))
  await settled()
  t.match((await conversations(app)).json().conversations.find((c: { psid: string }) => c.psid === '5003').messages, [{ text: '[postback] Show promotions', direction: 'in' }])
  t.match((await conversations(app, '', OTHER_PAGE)).json().conversations, [{ psid: '5004', messages: [{ text: '[image]' }] }])
  t.same(await db.query("SELECT mid FROM messages WHERE mid = 'm-5005-a'"), [], 'nothing kept for a Page that is not connected')
  t.equal((await db.query("SELECT key FROM messenger_events WHERE kind = 'dropped' AND page_id = '999999999999'")).length, 1, 'recorded as dropped')
})

t.test('the last 20 messages of a conversation are kept', async t => {
  await deliver(app, delivery([{ id: PAGE, messaging: Array.from({ length: 25 }, (_, i) => item('5006', `m-5006-${String(i).padStart(2, '0')}`, `n${i}`, now + i)) }]))
  await settled()
  const conversation = (await conversations(app)).json().conversations.find((c: { psid: string }) => c.psid === '5006')
  t.equal(conversation.messages.length, 20)
  t.equal(conversation.messages[0].text, 'n24', 'newest first')
  t.equal(conversation.messages[19].text, 'n5')

  // Across deliveries: a conversation is trimmed once its kept count passes 20, and the count stays true.
  const message = (i: number) => item('5007', `m-5007-${String(i).padStart(2, '0')}`, `n${i}`, now + i)
  await deliver(app, delivery([{ id: PAGE, messaging: Array.from({ length: 18 }, (_, i) => message(i)) }]))
  for (let i = 18; i < 23; i++) await deliver(app, delivery([{ id: PAGE, messaging: [message(i)] }]))
  await settled()
  const later = (await conversations(app)).json().conversations.find((c: { psid: string }) => c.psid === '5007')
  t.same(later.messages.map((m: { text: string }) => m.text), Array.from({ length: 20 }, (_, i) => `n${22 - i}`))
  t.same(await db.query(`SELECT c.message_count, (SELECT count(*)::integer FROM messages m WHERE m.page_id = c.page_id AND m.psid = c.psid) AS kept
    FROM conversations c WHERE c.psid IN ('5006', '5007') ORDER BY c.psid`), [{ message_count: 20, kept: 20 }, { message_count: 20, kept: 20 }])
})

t.test('conversations page by cursor, newest customer interaction first', async t => {
  const first = (await conversations(app, '?limit=2')).json()
  t.equal(first.conversations.length, 2)
  t.type(first.nextCursor, 'string')
  const all = [...first.conversations]
  let cursor = first.nextCursor
  while (cursor !== null) {
    const page = (await conversations(app, `?limit=2&cursor=${cursor}`)).json()
    all.push(...page.conversations)
    cursor = page.nextCursor
  }
  const everything = (await conversations(app, '?limit=100')).json()
  t.same(all.map(c => c.psid), everything.conversations.map((c: { psid: string }) => c.psid), 'the pages add up to the whole list, no repeats')
  t.equal(everything.nextCursor, null)
  t.equal(everything.conversations[0].psid, '5006', 'the latest customer message first')
  t.equal((await conversations(app, '?cursor=bm90LWEtY3Vyc29y')).statusCode, 400)
  t.equal((await conversations(app, '?limit=101')).statusCode, 400)
  t.equal((await app.inject({ url: `/admin/workspaces/other-ws/pages/${PAGE}/conversations`, headers: auth })).statusCode, 404)
})

// A message whose text is 'poison' fails to apply, as a database refusal would.
await db.exec(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN IF NEW.text = 'poison' THEN RAISE EXCEPTION 'poisoned message'; END IF; RETURN NEW; END $$;
  CREATE TRIGGER refuse_poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_poison();`)

t.test('an item that fails is retried with backoff, then parked with its error', async t => {
  const [{ id }] = await db.query<{ id: string }>("INSERT INTO inbox (source, body, next_attempt_at) VALUES ('messenger', $1, now() + interval '1 hour') RETURNING id::text AS id",
    [delivery([{ id: PAGE, messaging: [item('5008', 'm-5008-a', 'poison')] }])]) as [{ id: string }]
  await db.query('UPDATE inbox SET next_attempt_at = now() WHERE id = $1::bigint', [id])
  for (let i = 0; i < 100; i++) {
    const [row] = await db.query<{ attempts: number }>('SELECT attempts FROM inbox WHERE id = $1::bigint', [id])
    if (row!.attempts > 0) break
    await sleep(50)
  }
  await sleep(100)
  const [row] = await db.query<{ attempts: number, last_error: string, parked: boolean, later: boolean }>(
    'SELECT attempts, last_error, parked_at IS NOT NULL AS parked, next_attempt_at > now() AS later FROM inbox WHERE id = $1::bigint', [id])
  t.match(row, { attempts: 1, parked: false, later: true, last_error: /poisoned message/ })
  t.equal(await app.store.inbox.fail(id, 5, 'still failing'), 'parked')
  const [parked] = await db.query<{ parked: boolean, last_error: string }>('SELECT parked_at IS NOT NULL AS parked, last_error FROM inbox WHERE id = $1::bigint', [id])
  t.same(parked, { parked: true, last_error: 'still failing' })
})

t.test('one event that fails does not hold back the others: the delivery is split and only that event is retried', async t => {
  await deliver(app, delivery([
    { id: PAGE, messaging: [item('5101', 'm-5101-a', 'first customer'), item('5102', 'm-5102-a', 'poison')] },
    { id: OTHER_PAGE, messaging: [item('5103', 'm-5103-a', 'third customer')] }
  ]))
  for (let i = 0; i < 100; i++) {
    if ((await db.query("SELECT mid FROM messages WHERE mid IN ('m-5101-a', 'm-5103-a')")).length === 2) break
    await sleep(50)
  }
  t.same((await db.query<{ mid: string }>("SELECT mid FROM messages WHERE mid IN ('m-5101-a', 'm-5102-a', 'm-5103-a') ORDER BY mid")).map(r => r.mid),
    ['m-5101-a', 'm-5103-a'], 'the other customers\' messages are applied')
  const left = await db.query<{ body: string, last_error: string | null }>("SELECT body, last_error FROM inbox WHERE source = 'messenger' AND body LIKE '%5102%'")
  t.equal(left.length, 1, 'only the failing event stays in the inbox')
  t.notMatch(left[0]!.body, '5101', 'on its own')
  t.match(left[0]!.last_error, /poisoned message/)
})

t.test('text is cut by code point and lone surrogates are replaced, so no customer can fail a delivery', async t => {
  const long = `${'a'.repeat(1999)}😀 and more`
  await deliver(app, delivery([{ id: PAGE, messaging: [item('5104', 'm-5104-a', long), item('5105', 'm-5105-a', 'half \ud83d a pair\u0000'), item('5106', 'm-5106-a', 'fine')] }]))
  await settled()
  const texts = Object.fromEntries((await db.query<{ mid: string, text: string }>(
    "SELECT mid, text FROM messages WHERE mid IN ('m-5104-a', 'm-5105-a', 'm-5106-a')")).map(r => [r.mid, r.text]))
  t.equal(texts['m-5104-a'], 'a'.repeat(1999), 'the pair at the limit is left out whole')
  t.equal(texts['m-5105-a'], 'half \ufffd a pair')
  t.equal(texts['m-5106-a'], 'fine')
})

t.test('a replayed delivery has no effect, even after its message left the 20 kept; stale events are refused', async t => {
  const heard = heardMids(t)
  const first = delivery([{ id: PAGE, messaging: [item('5107', 'm-5107-00', 'the first')] }])
  await deliver(app, first)
  await deliver(app, delivery([{ id: PAGE, messaging: Array.from({ length: 20 }, (_, i) => item('5107', `m-5107-${String(i + 1).padStart(2, '0')}`, `n${i}`, now + i + 1)) }]))
  await settled()
  t.same(await db.query("SELECT mid FROM messages WHERE mid = 'm-5107-00'"), [], 'trimmed: no longer among the 20 kept')
  await deliver(app, first)
  await settled()
  t.same(await db.query("SELECT mid FROM messages WHERE mid = 'm-5107-00'"), [], 'the replay did not bring it back')
  t.equal(heard.filter(mid => mid === 'm-5107-00').length, 1, 'and was not heard again')

  const eightDaysAgo = now - 8 * 86_400_000
  await deliver(app, delivery([{ id: PAGE, messaging: [item('5108', 'm-5108-a', 'from last week', eightDaysAgo)] }]))
  await settled()
  t.same(await db.query("SELECT mid FROM messages WHERE mid = 'm-5108-a'"), [], 'older than the keys are kept: refused')
  t.same(await db.query("SELECT key FROM messenger_events WHERE psid = '5108'"), [])
})

t.test('replays for a Page that is not connected are recorded once', async t => {
  const body = delivery([{ id: '999999999998', messaging: [item('5109', 'm-5109-a', 'to nobody')] }])
  for (let i = 0; i < 5; i++) await deliver(app, body)
  await settled()
  t.equal((await db.query("SELECT key FROM messenger_events WHERE kind = 'dropped' AND page_id = '999999999998'")).length, 1)
})

t.test('a marketing-messages opt-in keeps its token, sealed, for the promotions to come', async t => {
  await deliver(app, delivery([{
    id: PAGE,
    messaging: [{
      sender: { id: '5009' },
      recipient: { id: PAGE },
      timestamp: now,
      optin: { type: 'notification_messages', payload: 'WEEKLY_DEALS', notification_messages_token: 'NMT-secret-token-5009', notification_messages_frequency: 'WEEKLY', token_expiry_timestamp: now + 86_400_000 }
    }]
  }]))
  await settled()
  const [row] = await db.query<{ token_ciphertext: string, frequency: string, expires_at: Date }>(
    "SELECT token_ciphertext, frequency, expires_at FROM notification_tokens WHERE page_id = $1 AND psid = '5009'", [PAGE])
  t.equal(row!.frequency, 'WEEKLY')
  t.equal(new Date(row!.expires_at).getTime(), now + 86_400_000)
  t.notMatch(row!.token_ciphertext, 'NMT-secret', 'sealed at rest')
  t.equal((await db.query("SELECT key FROM messenger_events WHERE kind = 'optin' AND psid = '5009'")).length, 1)
})

t.test('an older opt-in replayed does not roll the stored notification token back', async t => {
  const optin = (token: string, at: number) => delivery([{
    id: PAGE,
    messaging: [{
      sender: { id: '5110' },
      recipient: { id: PAGE },
      timestamp: at,
      optin: { type: 'notification_messages', notification_messages_token: token, notification_messages_frequency: 'WEEKLY', token_expiry_timestamp: at + 86_400_000 }
    }]
  }])
  await deliver(app, optin('NMT-older', now - 60_000))
  await deliver(app, optin('NMT-newer', now))
  await settled()
  await deliver(app, optin('NMT-older', now - 60_000))
  await settled()
  const [row] = await db.query<{ expires_at: Date }>("SELECT expires_at FROM notification_tokens WHERE page_id = $1 AND psid = '5110'", [PAGE])
  t.equal(new Date(row!.expires_at).getTime(), now + 86_400_000, 'the newer token stays')
})
