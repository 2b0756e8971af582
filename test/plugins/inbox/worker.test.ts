import pino from 'pino'
import t from 'tap'
import { startInboxWorker } from '../../../plugins/inbox/worker.js'
import type { InboxItem } from '../../../plugins/store/inbox.js'
import { openStore } from '../../../plugins/store/index.js'
import { testDb } from '../../helper.js'

const db = await testDb(t)
const { store } = await openStore({ db, encryptionKeys: 'fedcba9876543210'.repeat(4) })
const log = pino({ level: 'silent' })

/** A worker on its own source whose apply waits for `release()` while `blocked`, recording what it applied. */
function harness (source: string, options: { holdMax?: number, vacuumEvery?: number } = {}) {
  const applied: InboxItem[] = []
  const started: InboxItem[][] = []
  let claims = 0
  let vacuums = 0
  let release = () => {}
  let gate: Promise<void> | undefined
  const inbox = {
    ...store.inbox,
    claim: async (...args: Parameters<typeof store.inbox.claim>) => { claims++; return store.inbox.claim(...args) },
    vacuum: async () => { vacuums++; await store.inbox.vacuum() }
  }
  const worker = startInboxWorker({
    inbox,
    source,
    log,
    ...options,
    apply: async items => {
      started.push(items)
      await gate
      applied.push(...items)
      await store.inbox.markProcessed(items.map(item => item.id))
    }
  })
  return {
    worker,
    applied,
    started,
    claims: () => claims,
    vacuums: () => vacuums,
    block () { gate = new Promise(resolve => { release = () => { gate = undefined; resolve() } }) },
    release: () => release()
  }
}
const pending = async (source: string) => (await db.query<{ id: string, attempts: number, due: boolean }>(
  'SELECT id::text AS id, attempts, next_attempt_at <= now() AS due FROM inbox WHERE source = $1 ORDER BY id', [source]))
const until = async (done: () => boolean) => { while (!done()) await new Promise(resolve => setTimeout(resolve, 10)) }

t.test('a delivery it stored is applied from memory: stored claimed, never read back, invisible to other workers', async t => {
  const { worker, applied, claims, vacuums, block, release } = harness('held')
  t.teardown(() => worker.stop())
  await until(() => claims() === 1) // the first pass looks for work left in the inbox
  block()
  const id = await worker.store('{"n":1}')
  t.same((await pending('held')).map(row => ({ ...row })), [{ id, attempts: 1, due: false }], 'committed, with its lease taken')
  t.same(await store.inbox.claim('held', 10), [], 'another worker or replica cannot take it')
  release()
  await until(() => applied.length === 1)
  t.same(applied, [{ id, body: '{"n":1}', attempts: 1 }])
  t.equal(claims(), 1, 'applied without a claim')
  t.equal(vacuums(), 0, 'far from vacuumEvery')
  t.same(await pending('held'), [])
})

t.test('past holdMax a delivery is stored unclaimed, and the worker reads it back', async t => {
  const { worker, applied, started, block, release } = harness('overflow', { holdMax: 2 })
  t.teardown(() => worker.stop())
  block()
  const ids = [await worker.store('{"n":0}')]
  await until(() => started.length === 1)
  for (let n = 1; n < 4; n++) ids.push(await worker.store(`{"n":${n}}`))
  const rows = await pending('overflow')
  t.same(rows.map(row => row.attempts), [1, 1, 1, 0], 'the first is being applied, two are held, the last is left in the inbox')
  release()
  await until(() => applied.length === 4)
  t.same(applied.map(item => item.id).sort(), [...ids].sort(), 'each applied once')
})

t.test('stopping gives back what it still held, due at once and unattempted', async t => {
  const { worker, applied, started, block, release } = harness('stopping')
  block()
  const first = await worker.store('{"n":1}')
  await until(() => started.length === 1)
  const [second, third] = [await worker.store('{"n":2}'), await worker.store('{"n":3}')]
  const stopped = worker.stop()
  release()
  await stopped
  t.same(applied.map(item => item.id), [first], 'the batch in progress finished')
  t.same((await pending('stopping')).map(row => ({ ...row })), [{ id: second, attempts: 0, due: true }, { id: third, attempts: 0, due: true }])
})

t.test('processed items leave the inbox, and every vacuumEvery items its space is made reusable', async t => {
  const { worker, applied, vacuums } = harness('vacuumed', { vacuumEvery: 3 })
  t.teardown(() => worker.stop())
  for (let n = 0; n < 7; n++) await worker.store(`{"n":${n}}`)
  await until(() => applied.length === 7)
  await worker.stop()
  t.ok(vacuums() >= 1 && vacuums() <= 2, `${vacuums()} vacuums for 7 items (batches end on their own boundaries)`)
  t.same(await db.query("SELECT id FROM inbox WHERE source = 'vacuumed'"), [], 'nothing left behind')
})
