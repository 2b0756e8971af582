import t from 'tap'
import type { Queryable } from '../../../plugins/store/db.js'
import { createInboxWriter } from '../../../plugins/store/inbox-writer.js'
import { migrate } from '../../../plugins/store/migrations.js'
import { testDb } from '../../helper.js'

const db = await testDb(t)
await migrate(db)

/** The database, counting the statements it was sent; fails them while `failing` is set. */
function counted () {
  const state = { statements: 0, failing: false }
  const queryable: Queryable = {
    query: async (sql, params) => {
      state.statements++
      if (state.failing) throw new Error('disk full')
      return db.query(sql, params)
    }
  }
  return { state, add: createInboxWriter(queryable) }
}

t.test('deliveries that arrive together are committed together, each with its own id, in arrival order', async t => {
  const { state, add } = counted()
  const bodies = Array.from({ length: 50 }, (_, i) => `{"n":${i}}`)
  const ids = await Promise.all(bodies.map(body => add('messenger', body)))
  t.ok(state.statements < bodies.length, `${bodies.length} deliveries written in ${state.statements} statements`)
  t.equal(new Set(ids).size, bodies.length, 'one id each')
  const rows = await db.query<{ id: string, body: string }>('SELECT id::text AS id, body FROM inbox WHERE id = ANY($1::bigint[]) ORDER BY inbox.id', [ids])
  t.same(rows.map(row => row.body), bodies, 'stored in arrival order')
  t.same(rows.map(row => row.id), ids, 'each caller got the id of its own row')
})

t.test('a failed write rejects every delivery in it, and the next ones are written', async t => {
  const { state, add } = counted()
  state.failing = true
  const failed = await Promise.allSettled([add('messenger', '{"a":1}'), add('messenger', '{"a":2}')])
  t.same(failed.map(result => result.status), ['rejected', 'rejected'])
  state.failing = false
  t.match(await add('messenger', '{"a":3}'), /^\d+$/)
})

t.test('a batch stops growing at 4 MiB, so large deliveries are split over statements', async t => {
  const { state, add } = counted()
  const large = `"${'x'.repeat(1024 * 1024)}"`
  await Promise.all(Array.from({ length: 10 }, () => add('messenger', large)))
  t.ok(state.statements >= 3, `10 deliveries of 1 MiB in ${state.statements} statements`)
})
