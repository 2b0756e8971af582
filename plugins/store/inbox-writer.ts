import type { Queryable } from './db.js'

interface Waiting { source: string, body: string, resolve: (id: string) => void, reject: (err: unknown) => void }

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
    while (count < waiting.length && (count === 0 || bytes + waiting[count]!.body.length <= MAX_BATCH_BYTES)) bytes += waiting[count++]!.body.length
    return waiting.splice(0, count)
  }

  async function writeAll () {
    writing = true
    while (waiting.length > 0) {
      await nextTurn()
      const batch = takeBatch()
      try {
        // unnest keeps the arrays' order, and so do the returned ids.
        const rows = await db.query<{ id: string }>('INSERT INTO inbox (source, body) SELECT * FROM unnest($1::text[], $2::text[]) RETURNING id::text AS id',
          [batch.map(item => item.source), batch.map(item => item.body)])
        batch.forEach((item, index) => item.resolve(rows[index]!.id))
      } catch (err) {
        for (const item of batch) item.reject(err)
      }
    }
    writing = false
  }

  /** Resolves with the row's id (as text: bigint is read differently by pg and PGlite) once it is committed. */
  return (source: string, body: string) => new Promise<string>((resolve, reject) => {
    waiting.push({ source, body, resolve, reject })
    if (!writing) writeAll().catch(() => {})
  })
}
