import { type Db, vacuumEmbedded } from './db.js'
import { createInboxWriter } from './inbox-writer.js'

const MAX_ATTEMPTS = 5
/** How long a claimed item stays with its worker before another may take it (the worker died, say). */
export const LEASE_SECONDS = 30

export interface InboxItem { id: string, body: string, attempts: number }

/**
 * The durable inbox every webhook writes to before it answers: a work queue per source ('messenger',
 * 'shopify'), leased so replicas share it and items of a process that died come back.
 */
export function createInboxStore (db: Db) {
  return {
    /**
     * Writes a verified delivery, committed when it resolves with the row's id. With `leaseSeconds` it is
     * written claimed by the caller, which processes it from memory instead of reading it back.
     */
    add: createInboxWriter(db),

    /**
     * Leases up to `limit` due items of `source`: a worker that dies mid-batch gives them back when the lease
     * ends, and SKIP LOCKED lets replicas share the queue without taking an item twice.
     */
    async claim (source: string, limit: number, leaseSeconds = LEASE_SECONDS): Promise<InboxItem[]> {
      return db.query(`
        UPDATE inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $3)
        WHERE id IN (
          SELECT id FROM inbox WHERE source = $1 AND parked_at IS NULL AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
        )
        RETURNING id::text AS id, body, attempts`, [source, limit, leaseSeconds])
    },

    /** Ends the leases a previous run of this process held: only safe where no other worker shares the inbox. */
    async releaseLeases (source: string): Promise<void> {
      if (!db.exclusive) return
      await db.query('UPDATE inbox SET next_attempt_at = now() WHERE source = $1 AND parked_at IS NULL AND next_attempt_at > now()',
        [source])
    },

    /** Gives back items this worker claimed and will not process (it is stopping): due at once, attempt undone. */
    async release (ids: string[]): Promise<void> {
      await db.query('UPDATE inbox SET next_attempt_at = now(), attempts = attempts - 1 WHERE id = ANY($1::bigint[])', [ids])
    },

    /**
     * A processed item leaves the inbox: what it said lives on in the tables it was applied to (and is erased
     * with them), not in a raw copy; only failing and parked items stay.
     */
    async markProcessed (ids: string[]): Promise<void> {
      await db.query('DELETE FROM inbox WHERE id = ANY($1::bigint[])', [ids])
    },

    /**
     * Replaces an item by its parts, due at once and in order, in one transaction: a delivery whose one event keeps
     * failing is split so the others are applied and only that event is retried and parked.
     */
    async split (source: string, id: string, parts: string[]): Promise<void> {
      await db.transaction(async tx => {
        await tx.query('INSERT INTO inbox (source, body) SELECT $1, part FROM unnest($2::text[]) WITH ORDINALITY AS t (part, n) ORDER BY n',
          [source, parts])
        await tx.query('DELETE FROM inbox WHERE id = $1::bigint', [id])
      })
    },

    /** Without it the embedded store's inbox file would grow with every delivery processed. */
    async vacuum (): Promise<void> {
      await vacuumEmbedded(db, ['inbox'])
    },

    /** Backs off exponentially, then parks the item with its error after MAX_ATTEMPTS. */
    async fail (inboxId: string, attempts: number, error: string): Promise<'retry' | 'parked'> {
      const parked = attempts >= MAX_ATTEMPTS
      await db.query(`UPDATE inbox SET last_error = $2, parked_at = CASE WHEN $3 THEN now() END,
        next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1::bigint`, [inboxId, error.slice(0, 500), parked, 2 ** attempts])
      return parked ? 'parked' : 'retry'
    }
  }
}

export type InboxStore = ReturnType<typeof createInboxStore>
