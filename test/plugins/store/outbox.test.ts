import t from 'tap'
import { openStore } from '../../../plugins/store/index.js'
import { testBackends } from '../../helper.js'

const backends = await testBackends(t)
const page = (id: string) => ({ id, name: `Page ${id}`, category: 'Shop', tasks: ['MESSAGING'], canMessage: true, accessToken: `page-token-${id}` })
const message = (text: string) => ({ text })

for (const backend of backends) {
  t.test(`outbox on ${backend.name}`, { skip: backend.skip ?? false }, async t => {
    const db = backend.db!
    const { store } = await openStore({ db, encryptionKeys: '0123456789abcdef'.repeat(4) })
    const { outbox } = store
    await store.pages.saveConnection({ workspace: 'ob-ws', user: { id: '1', name: 'U', accessToken: 'EAAu' }, pages: [page('701'), page('702'), page('703')] })
    await db.exec("INSERT INTO conversations (page_id, psid, last_customer_message_at) VALUES ('701', 'a', now()), ('701', 'b', now()), ('702', 'c', now())")
    const statusOf = async (id: string) => (await db.query<{ status: string, error: string | null }>('SELECT status, error FROM outbox WHERE id = $1::bigint', [id]))[0]
    const claimAs = (sender: string, limit = 10, perPage = 100) =>
      outbox.claim(sender, { limit, perPage, leaseSeconds: 60, pageLeaseSeconds: 15 })
    const claim = (limit = 10) => claimAs('sender-a', limit)
    const drainAll = async () => { await db.exec("UPDATE outbox SET status = 'sent' WHERE status IN ('queued', 'sending')") }

    t.test('a key queues a message once', async t => {
      const first = await outbox.enqueue({ dedupeKey: 'reply:m1:0', pageId: '701', psid: 'a', source: 'bot', message: message('hi') })
      const again = await outbox.enqueue({ dedupeKey: 'reply:m1:0', pageId: '701', psid: 'a', source: 'bot', message: message('hi again') })
      t.same(again, { id: first.id, status: 'queued', created: false })
      t.equal(first.created, true)
      t.same(await db.query("SELECT count(*)::integer AS n FROM outbox WHERE dedupe_key = 'reply:m1:0'"), [{ n: 1 }])
      await drainAll()
    })

    t.test('a claim takes only the oldest unfinished message of each conversation: a customer gets them in order', async t => {
      const ids = []
      for (const [psid, text] of [['a', 'a1'], ['a', 'a2'], ['b', 'b1'], ['a', 'a3']]) {
        ids.push((await outbox.enqueue({ dedupeKey: `order:${text}`, pageId: '701', psid: psid!, source: 'bot', message: message(text!) })).id)
      }
      const first = await claim()
      t.same(first.map(row => row.message.text).sort(), ['a1', 'b1'], 'one per conversation')
      t.same((await claim()).map(row => row.message.text), [], 'a2 waits while a1 is being sent')
      const a1 = first.find(row => row.message.text === 'a1')!
      t.equal(a1.attempts, 1)
      t.ok(a1.lastCustomerMessageAt instanceof Date, 'with what the policy needs')
      await outbox.sent([{ id: a1.id, messageId: 'mid.1', messagingType: 'RESPONSE', tag: null }])
      t.same((await claim()).map(row => row.message.text), ['a2'])
      await drainAll()
    })

    t.test('a retried message keeps its place: later ones to the same person wait for it', async t => {
      const r1 = await outbox.enqueue({ dedupeKey: 'retry:1', pageId: '702', psid: 'c', source: 'bot', message: message('r1') })
      await outbox.enqueue({ dedupeKey: 'retry:2', pageId: '702', psid: 'c', source: 'bot', message: message('r2') })
      const [claimed] = await claim()
      t.equal(await outbox.retry(claimed!.id, claimed!.attempts, 'meta_retryable'), 'queued')
      t.same(await claim(), [], 'r1 is backing off and r2 waits behind it')
      t.same(await statusOf(r1.id), { status: 'queued', error: 'meta_retryable' })
      t.equal(await outbox.retry(r1.id, 5, 'meta_retryable'), 'failed', 'after the last attempt it fails')
      await drainAll()
    })

    t.test('a sending row whose lease ran out becomes unknown and is never claimed again', async t => {
      const row = await outbox.enqueue({ dedupeKey: 'lease:1', pageId: '701', psid: 'b', source: 'bot', message: message('x') })
      const waiting = await outbox.enqueue({ dedupeKey: 'lease:2', pageId: '701', psid: 'b2', source: 'bot', message: message('y') })
      t.equal((await claim()).length, 2)
      await outbox.calling([row.id])
      await db.query("UPDATE outbox SET lease_until = now() - interval '1 second' WHERE id = ANY($1::bigint[])", [[row.id, waiting.id]])
      t.equal(await outbox.expireLeases(), 2)
      t.same(await statusOf(row.id), { status: 'unknown', error: 'no_answer' }, 'its call had begun: unknown')
      t.same(await statusOf(waiting.id), { status: 'queued', error: null }, 'still waiting for its slot: never sent, queued again')
      t.same((await claim()).map(claimed => claimed.id), [waiting.id], 'only the one never called is claimed again')
      await drainAll()
    })

    t.test('paused and disconnected Pages send nothing until they may', async t => {
      const paused = await outbox.enqueue({ dedupeKey: 'pause:1', pageId: '703', psid: 'd', source: 'bot', message: message('p') })
      await outbox.pausePage('703', 60)
      t.same(await claim(), [])
      await db.exec("UPDATE pages SET sends_paused_until = NULL WHERE id = '703'")
      await store.pages.markNeedsReconnect('703')
      t.same(await claim(), [])
      await db.exec("UPDATE pages SET status = 'connected' WHERE id = '703'")
      t.same((await claim()).map(row => row.id), [paused.id])
      await outbox.putBack(paused.id, 0)
      t.same(await statusOf(paused.id), { status: 'queued', error: null })
      await drainAll()
    })

    t.test('one sender at a time holds a Page: others wait for its release or the end of its lease', async t => {
      await outbox.releasePages('sender-a')
      for (const psid of ['s1', 's2', 's3']) {
        await outbox.enqueue({ dedupeKey: `hold:${psid}`, pageId: '701', psid, source: 'bot', message: message(psid) })
      }
      t.same((await claimAs('sender-a', 10, 2)).length, 2, 'at most perPage rows of one Page in a pass')
      t.same(await claimAs('sender-b'), [], 'the Page is sender-a\'s')
      await outbox.releasePages('sender-a')
      t.same((await claimAs('sender-b')).map(row => row.psid), ['s3'], 'released, another sender takes it')
      await db.exec("UPDATE pages SET sender_lease_until = now() - interval '1 second' WHERE id = '701'")
      await outbox.enqueue({ dedupeKey: 'hold:s4', pageId: '701', psid: 's4', source: 'bot', message: message('s4') })
      t.same((await claimAs('sender-c')).map(row => row.psid), ['s4'], 'a lease run out (its sender died) is taken over')
      await outbox.releasePages('sender-b')
      await outbox.releasePages('sender-c')
      await drainAll()
    })

    t.test('a hand-over rides the outbox behind the notice, and is not listed as a message', async t => {
      const notice = await outbox.enqueue({ dedupeKey: 'ho:0', pageId: '702', psid: 'h', source: 'bot', message: message('a person will answer') })
      await outbox.enqueue({
        dedupeKey: 'ho:handover', pageId: '702', psid: 'h', source: 'bot', action: 'pass_thread_control', message: { metadata: 'asked' }
      })
      const [first] = await claim()
      t.match(first, { id: notice.id, action: 'message' })
      t.same(await claim(), [], 'the hand-over waits for the notice')
      await outbox.sent([{ id: notice.id, messageId: 'mid.ho', messagingType: 'RESPONSE', tag: null }])
      t.match(await claim(), [{ action: 'pass_thread_control', message: { metadata: 'asked' } }])
      t.notOk((await outbox.list('ob-ws', { limit: 100 })).some(item => item.psid === 'h' && item.id !== notice.id))
      await drainAll()
    })

    t.test('the workspace\'s outbox, newest first, by cursor, by status', async t => {
      const all = await outbox.list('ob-ws', { limit: 100 })
      t.ok(all.length >= 8)
      t.same(all.map(item => Number(item.id)), all.map(item => Number(item.id)).sort((a, b) => b - a))
      const firstPage = await outbox.list('ob-ws', { limit: 3 })
      const next = await outbox.list('ob-ws', { limit: 3, before: firstPage.at(-1)!.id })
      t.same([...firstPage, ...next].map(item => item.id), all.slice(0, 6).map(item => item.id))
      t.ok((await outbox.list('ob-ws', { limit: 100, status: 'unknown' })).every(item => item.status === 'unknown'))
      t.same(await outbox.list('another-ws', { limit: 100 }), [])
      t.notOk(JSON.stringify(all).includes('page-token'), 'never a token')
    })

    if (backend.replica !== undefined && backend.name === 'postgres') {
      t.test('two replicas claiming at once never take the same row, nor two rows of one conversation', async t => {
        const other = (await openStore({ db: backend.replica!(), encryptionKeys: '0123456789abcdef'.repeat(4) })).store.outbox
        for (let i = 0; i < 40; i++) {
          await outbox.enqueue({ dedupeKey: `race:${i}`, pageId: '702', psid: `r${i % 10}`, source: 'bot', message: message(`m${i}`) })
        }
        await outbox.releasePages('sender-a')
        const options = { limit: 40, perPage: 100, leaseSeconds: 60, pageLeaseSeconds: 15 }
        const [mine, theirs] = await Promise.all([outbox.claim('replica-1', options), other.claim('replica-2', options)])
        const claimed = [...mine, ...theirs]
        t.equal(new Set(claimed.map(row => row.id)).size, claimed.length, 'no row twice')
        t.equal(new Set(claimed.map(row => row.psid)).size, claimed.length, 'at most one row per conversation')
        t.equal(claimed.length, 10, 'each of the 10 conversations sends its first')
        t.ok(mine.length === 0 || theirs.length === 0, 'one replica at a time sends for a Page (its rate holds)')
        await drainAll()
      })
    }
  })
}
