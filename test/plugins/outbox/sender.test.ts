import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { SendRequest, SendResult } from '../../../plugins/facebook/send-api.js'
import { startSender } from '../../../plugins/outbox/sender.js'
import { openStore } from '../../../plugins/store/index.js'
import { testDb } from '../../helper.js'

const db = await testDb(t)
const { store } = await openStore({ db, encryptionKeys: '0123456789abcdef'.repeat(4) })
const page = (id: string) => ({ id, name: `Page ${id}`, category: 'Shop', tasks: ['MESSAGING'], canMessage: true, accessToken: `page-token-${id}` })
await store.pages.saveConnection({ workspace: 'snd-ws', user: { id: '1', name: 'U', accessToken: 'EAAu' }, pages: ['801', '802', '803', '804'].map(page) })

const HOUR = 3_600_000
let conversations = 0
/** A conversation whose customer last wrote `ageMs` ago. */
async function conversation (pageId: string, ageMs = 0): Promise<string> {
  const psid = `9${String(++conversations).padStart(5, '0')}`
  await db.query('INSERT INTO conversations (page_id, psid, last_customer_message_at) VALUES ($1, $2, $3)', [pageId, psid, new Date(Date.now() - ageMs)])
  return psid
}
interface Row {
  status: string, error: string | null, message_id: string | null, messaging_type: string | null, tag: string | null, attempts: number
}
const row = async (id: string) => (await db.query<Row>(
  'SELECT status, error, message_id, messaging_type, tag, attempts FROM outbox WHERE id = $1::bigint', [id]))[0]!

/** A sender whose Send API answers from `answer`, recording every call; stopped when `t` ends. */
function sender (
  t: Test, answer: (request: SendRequest) => SendResult,
  options: { humanAgent?: boolean, ratePerPage?: number, handOver?: () => SendResult } = {}
) {
  const calls: Array<SendRequest & { at: number }> = []
  const handOvers: Array<{ pageId: string, psid: string, metadata: string }> = []
  const running = startSender({
    outbox: store.outbox,
    send: async request => { calls.push({ ...request, at: Date.now() }); return answer(request) },
    passThreadControl: async (pageId, psid, metadata) => {
      handOvers.push({ pageId, psid, metadata })
      return options.handOver?.() ?? { kind: 'sent', messageId: '' }
    },
    recordSent: sent => store.conversations.recordSent(sent.map(({ row, messageId, at }) => ({
      kind: 'message' as const, pageId: row.pageId, psid: row.psid, mid: messageId, direction: 'out' as const, text: String(row.message.text), at, fromCustomer: false
    }))),
    markNeedsReconnect: pageId => store.pages.markNeedsReconnect(pageId),
    log: pino({ level: 'silent' }),
    ratePerPage: options.ratePerPage ?? 100,
    humanAgent: options.humanAgent ?? false,
    idleMs: 20
  })
  t.teardown(() => running.stop())
  return { calls, handOvers, wake: running.wake, stop: running.stop }
}

/** The row once it is in one of `statuses` after at least one attempt (or with none, for a row skipped before). */
async function settled (id: string, ...statuses: string[]) {
  for (let i = 0; i < 200; i++) {
    const current = await row(id)
    if (statuses.includes(current.status) && (current.status !== 'queued' || current.attempts > 0)) return current
    await sleep(20)
  }
  throw new Error(`outbox row ${id} stayed ${(await row(id)).status}`)
}
const queue = (pageId: string, psid: string, text: string, source: 'bot' | 'human' = 'bot') =>
  store.outbox.enqueue({ dedupeKey: `${source}:${psid}:${text}`, pageId, psid, source, message: { text } })

t.test('sent: Meta\'s message id on the row, the message in the conversation, RESPONSE and no tag', async t => {
  const { calls } = sender(t, () => ({ kind: 'sent', messageId: 'm_sent_1' }))
  const psid = await conversation('801')
  const { id } = await queue('801', psid, 'hello there')
  t.match(await settled(id, 'sent'), { message_id: 'm_sent_1', messaging_type: 'RESPONSE', tag: null })
  t.match(calls, [{ pageId: '801', psid, messagingType: 'RESPONSE', message: { text: 'hello there' } }])
  t.notOk('tag' in calls[0]!)
  t.same(await db.query("SELECT direction, text FROM messages WHERE mid = 'm_sent_1'"), [{ direction: 'out', text: 'hello there' }])
  t.same(await db.query("SELECT kind FROM messenger_events WHERE key = 'mid:m_sent_1'"), [{ kind: 'message' }], 'its echo will be a redelivery')
})

t.test('the policy is decided again right before the call: a closed window skips without a call; a person gets HUMAN_AGENT', async t => {
  const { calls } = sender(t, () => ({ kind: 'sent', messageId: `m_${Math.random()}` }), { humanAgent: true })
  const stale = await conversation('801', 25 * HOUR)
  const botRow = await queue('801', stale, 'too late for the bot')
  t.match(await settled(botRow.id, 'skipped'), { error: 'window_closed' })
  const personRow = await queue('801', stale, 'a person, a day later', 'human')
  t.match(await settled(personRow.id, 'sent'), { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })
  const week = await conversation('801', 8 * 24 * HOUR)
  const tooOld = await queue('801', week, 'a person, eight days later', 'human')
  t.match(await settled(tooOld.id, 'skipped'), { error: 'window_closed' })
  t.same(calls.map(call => call.message.text), ['a person, a day later'], 'only the allowed one reached Meta')
})

t.test('Meta\'s answers decide the row: retry, failed, unreachable, reconnect, pause, unknown', async t => {
  const outcomes: Record<string, SendResult> = {
    retry: { kind: 'retry' },
    failed: { kind: 'failed', reason: 'meta_error_100' },
    unreachable: { kind: 'unreachable', reason: 'unreachable' },
    unknown: { kind: 'unknown', reason: 'no_answer' }
  }
  const { calls } = sender(t, request => outcomes[String(request.message.text)] ?? { kind: 'sent', messageId: `m_${calls.length}` })
  const rows: Record<string, string> = {}
  for (const text of Object.keys(outcomes)) rows[text] = (await queue('802', await conversation('802'), text)).id
  t.match(await settled(rows.retry!, 'queued'), { error: 'meta_retryable', attempts: 1 })
  t.match(await settled(rows.failed!, 'failed'), { error: 'meta_error_100' })
  t.match(await settled(rows.unreachable!, 'failed'), { error: 'unreachable' })
  t.match(await settled(rows.unknown!, 'unknown'), { error: 'no_answer' })
  const unknownCalls = calls.filter(call => call.message.text === 'unknown').length
  await sleep(200)
  t.equal(calls.filter(call => call.message.text === 'unknown').length, unknownCalls, 'an unknown message is never sent again')
  const psid = calls.find(call => call.message.text === 'unreachable')!.psid
  const after = await queue('802', psid, 'after unreachable')
  t.match(await settled(after.id, 'skipped'), { error: 'unreachable' }, 'nothing more to an unreachable person')
})

t.test('a Page token refused pauses the Page\'s sends (needs_reconnect); a restriction pauses them for a while', async t => {
  let answer: SendResult = { kind: 'reconnect', reason: 'page_token_invalid' }
  const { calls } = sender(t, () => answer)
  const psid = await conversation('803')
  const first = await queue('803', psid, 'one')
  for (let i = 0; i < 100 && calls.length === 0; i++) await sleep(20)
  await sleep(100)
  t.equal((await store.pages.list('snd-ws')).find(p => p.id === '803')!.status, 'needs_reconnect')
  t.match(await row(first.id), { status: 'queued' }, 'given back, not failed')
  t.equal(calls.length, 1, 'nothing more is tried while the Page needs reconnecting')
  answer = { kind: 'pause', reason: 'page_restricted', seconds: 3600 }
  await db.exec("UPDATE pages SET status = 'connected' WHERE id = '803'")
  for (let i = 0; i < 100 && calls.length === 1; i++) await sleep(20)
  await sleep(100)
  const [paused] = await db.query<{ paused: boolean }>("SELECT sends_paused_until > now() + interval '50 minutes' AS paused FROM pages WHERE id = '803'")
  t.equal(paused!.paused, true)
  t.match(await row(first.id), { status: 'queued' })
  t.equal(calls.length, 2)
})

t.test('one Page is sent for at most SEND_RATE_PER_PAGE messages a second', async t => {
  const { calls } = sender(t, () => ({ kind: 'sent', messageId: `m_rate_${calls.length}` }), { ratePerPage: 10 })
  const ids = []
  for (let i = 0; i < 5; i++) ids.push((await queue('804', await conversation('804'), `rate ${i}`)).id)
  for (const id of ids) await settled(id, 'sent')
  const times = calls.map(call => call.at).sort((a, b) => a - b)
  // Slots are 100 ms apart at 10/s; a call given its slot late may be followed sooner (the pacer makes up to 20 ms
  // of lateness up), but never before its own slot: the n-th call comes at least n slots less 20 ms after the first.
  const since = times.map(at => at - times[0]!)
  t.ok(since.every((at, n) => at >= n * 100 - 22), `slots 100 ms apart at 10/s (calls at ${since.join(', ')} ms)`)
})

t.test('after a crash: a message that was being sent is unknown, never sent again; one never tried is sent', async t => {
  const psidA = await conversation('801')
  const psidB = await conversation('801')
  const inFlight = await queue('801', psidA, 'in flight when the process died')
  await db.query("UPDATE outbox SET status = 'sending', attempts = 1, called_at = now(), lease_until = now() + interval '1 minute' WHERE id = $1::bigint", [inFlight.id])
  const waiting = await queue('801', psidB, 'never tried')
  const psidC = await conversation('801')
  const claimedOnly = await queue('801', psidC, 'claimed, still waiting for its slot')
  await db.query("UPDATE outbox SET status = 'sending', attempts = 1, lease_until = now() + interval '1 minute' WHERE id = $1::bigint", [claimedOnly.id])
  const { calls } = sender(t, () => ({ kind: 'sent', messageId: `m_after_restart_${calls.length}` }))
  t.match(await settled(waiting.id, 'sent'), { message_id: /^m_after_restart/ })
  t.match(await settled(claimedOnly.id, 'sent'), { attempts: 1 }, 'claimed but never called: queued again and sent, its attempt not counted twice')
  t.match(await row(inFlight.id), { status: 'unknown', error: 'no_answer' })
  t.same(calls.map(call => call.message.text).sort(), ['claimed, still waiting for its slot', 'never tried'])
})

t.test('a hand-over is passed after the notice before it, and settles like a send', async t => {
  let handOverAnswer: SendResult = { kind: 'sent', messageId: '' }
  const { calls, handOvers } = sender(t, () => ({ kind: 'sent', messageId: `m_ho_${calls.length}` }), { handOver: () => handOverAnswer })
  const psid = await conversation('801')
  const notice = await queue('801', psid, 'a person will answer')
  const handOver = await store.outbox.enqueue({
    dedupeKey: `ho:${psid}`, pageId: '801', psid, source: 'bot', action: 'pass_thread_control', message: { metadata: 'asked for a person' }
  })
  t.match(await settled(handOver.id, 'sent'), { message_id: null, messaging_type: null })
  t.match(await row(notice.id), { status: 'sent' })
  t.same(handOvers, [{ pageId: '801', psid, metadata: 'asked for a person' }])
  t.equal(calls.filter(call => call.psid === psid).length, 1, 'the hand-over is not a message')
  handOverAnswer = { kind: 'failed', reason: 'meta_error_100' }
  const refused = await store.outbox.enqueue({
    dedupeKey: `ho2:${psid}`, pageId: '801', psid, source: 'bot', action: 'pass_thread_control', message: { metadata: 'again' }
  })
  t.match(await settled(refused.id, 'failed'), { error: 'meta_error_100' })
})

t.test('a stopped sender lets go of its Pages', async t => {
  const running = sender(t, () => ({ kind: 'sent', messageId: `m_rel_${Math.random()}` }))
  const { id } = await queue('804', await conversation('804'), 'before stop')
  await settled(id, 'sent')
  t.ok((await db.query("SELECT 1 FROM pages WHERE id = '804' AND sender_id IS NOT NULL")).length === 1, 'held while sending')
  running.calls.length = 0
  await running.stop()
  t.same(await db.query("SELECT sender_id FROM pages WHERE id = '804'"), [{ sender_id: null }])
})
