import type { Queryable } from './db.js'

interface Waiting { source: string, body: string, leaseSeconds: number, resolve: (id: string) => void, reject: (err: unknown) => void }

// One statement carries at most this much, so a burst of large deliveries does not become one huge parameter.
const MAX_BATCH_BYTES = 4 * 1024 * 1024

/**
 * Group commit for the inbox: the first delivery is written at once; those that arrive while a write is running
 * are written together by the next one, in one statement and one commit. Each caller's promise settles only
 * when its own row is committed, so an acknowledgement still means "stored".
 */
export function createInboxWriter (db: Queryable) {
  const waiting: Waiting[] = []
  let writing = false
  // PGlite runs a statement on this thread: requests that arrive meanwhile are read only after it, so each
  // write first lets the event loop take in what has arrived (setImmediate runs after pending I/O).
  const nextTurn = () => new Promise(resolve => setImmediate(resolve))

  function takeBatch (): Waiting[] {
    let bytes = 0
    let count = 0
    while (count < waiting.length && (count === 0 || bytes + waiting[count]!.body.length <= MAX_BATCH_BYTES)) {
      bytes += waiting[count++]!.body.length
    }
    return waiting.splice(0, count)
  }

  async function writeAll () {
    writing = true
    while (waiting.length > 0) {
      await nextTurn()
      const batch = takeBatch()
      try {
        // unnest keeps the arrays' order, and so do the returned ids.
        const rows = await db.query<{ id: string }>(`INSERT INTO inbox (source, body, attempts, next_attempt_at)
          SELECT source, body, CASE WHEN lease > 0 THEN 1 ELSE 0 END, now() + make_interval(secs => lease)
          FROM unnest($1::text[], $2::text[], $3::integer[]) AS t (source, body, lease) RETURNING id::text AS id`,
        [batch.map(item => item.source), batch.map(item => item.body), batch.map(item => item.leaseSeconds)])
        batch.forEach((item, index) => item.resolve(rows[index]!.id))
      } catch (err) {
        for (const item of batch) item.reject(err)
      }
    }
    writing = false
  }

  /**
   * Resolves with the row's id (as text: bigint is read differently by pg and PGlite) once it is committed.
   * With `leaseSeconds`, the row is written already claimed (one attempt, leased) by the caller.
   */
  return (source: string, body: string, leaseSeconds = 0) => new Promise<string>((resolve, reject) => {
    waiting.push({ source, body, leaseSeconds, resolve, reject })
    if (!writing) writeAll().catch(() => {})
  })
}
