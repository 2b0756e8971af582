import type { MessengerEvent } from '../messenger/events.js'
import type { Cipher } from './cipher.js'
import type { Db } from './db.js'

const KEPT_MESSAGES = 20
const WINDOW_MS = 24 * 60 * 60 * 1000
const MAX_ATTEMPTS = 5

export interface Conversation {
  psid: string
  firstMessageAt: string | null
  lastCustomerMessageAt: string | null
  windowOpen: boolean
  messages: Array<{ mid: string, direction: 'in' | 'out', text: string, at: string }>
}

const iso = (value: Date | string | null) => value === null ? null : new Date(value).toISOString()

/** The Messenger side of the store: the inbox's work queue, conversations and their last messages. */
export const notificationTokenAad = (pageId: string, psid: string) => `notification-token:${pageId}:${psid}`

export function createMessengerStore (db: Db, cipher: Cipher) {
  return {
    /**
     * Leases up to `limit` due items: a worker that dies mid-batch gives them back when the lease ends, and
     * SKIP LOCKED lets replicas share the queue without taking an item twice.
     */
    async claim (limit: number, leaseSeconds = 30): Promise<Array<{ id: string, body: string, attempts: number }>> {
      return db.query(`
        UPDATE inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
        WHERE id IN (
          SELECT id FROM inbox WHERE processed_at IS NULL AND parked_at IS NULL AND next_attempt_at <= now()
          ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
        )
        RETURNING id::text AS id, body, attempts`, [limit, leaseSeconds])
    },

    /** Ends the leases a previous run of this process held: only safe where no other worker shares the inbox. */
    async releaseLeases (): Promise<void> {
      if (!db.exclusive) return
      await db.query('UPDATE inbox SET next_attempt_at = now() WHERE processed_at IS NULL AND parked_at IS NULL AND next_attempt_at > now()')
    },

    /** Applies one item's events and marks it processed, in one transaction; returns the messages that were new. */
    async apply (inboxId: string, events: MessengerEvent[]): Promise<Array<Extract<MessengerEvent, { kind: 'message' }>>> {
      return db.transaction(async tx => {
        const pageIds = [...new Set(events.map(e => e.pageId))]
        const connected = new Set((await tx.query<{ id: string }>('SELECT id FROM pages WHERE id = ANY($1::text[])', [pageIds])).map(r => r.id))
        const fresh: Array<Extract<MessengerEvent, { kind: 'message' }>> = []
        for (const [index, event] of events.entries()) {
          if (!connected.has(event.pageId)) {
            await tx.query('INSERT INTO messenger_events (key, kind, page_id, psid) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING',
              [`dropped:${inboxId}:${index}`, 'dropped', event.pageId, event.psid])
            continue
          }
          if (event.kind !== 'message') {
            await tx.query('INSERT INTO messenger_events (key, kind, page_id, psid, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING',
              [event.key, event.kind, event.pageId, event.psid, event.at])
            if (event.kind === 'optin' && event.notificationToken !== undefined) {
              // Kept for the promotions capability: a marketing-messages token is a credential, sealed like Page tokens.
              const sealed = cipher.seal(event.notificationToken.token, notificationTokenAad(event.pageId, event.psid))
              await tx.query(`INSERT INTO notification_tokens (page_id, psid, token_ciphertext, token_key_id, frequency, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (page_id, psid) DO UPDATE SET token_ciphertext = excluded.token_ciphertext,
                  token_key_id = excluded.token_key_id, frequency = excluded.frequency, expires_at = excluded.expires_at, updated_at = now()`,
              [event.pageId, event.psid, sealed.ciphertext, sealed.keyId, event.notificationToken.frequency, event.notificationToken.expiresAt])
            }
            continue
          }
          const inserted = await tx.query(`INSERT INTO messages (mid, page_id, psid, direction, text, at) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (mid) DO NOTHING RETURNING mid`, [event.mid, event.pageId, event.psid, event.direction, event.text, event.at])
          if (inserted.length === 0) continue
          fresh.push(event)
          await tx.query(`
            INSERT INTO conversations (page_id, psid, first_message_at, last_customer_message_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (page_id, psid) DO UPDATE SET
              first_message_at = LEAST(conversations.first_message_at, excluded.first_message_at),
              last_customer_message_at = GREATEST(conversations.last_customer_message_at, excluded.last_customer_message_at)`,
          [event.pageId, event.psid, event.at, event.fromCustomer ? event.at : null])
          await tx.query(`DELETE FROM messages WHERE page_id = $1 AND psid = $2 AND mid NOT IN (
            SELECT mid FROM messages WHERE page_id = $1 AND psid = $2 ORDER BY at DESC, mid DESC LIMIT ${KEPT_MESSAGES})`, [event.pageId, event.psid])
        }
        await tx.query('UPDATE inbox SET processed_at = now() WHERE id = $1::bigint', [inboxId])
        return fresh
      })
    },

    /** Backs off exponentially, then parks the item with its error after MAX_ATTEMPTS. */
    async fail (inboxId: string, attempts: number, error: string): Promise<'retry' | 'parked'> {
      const parked = attempts >= MAX_ATTEMPTS
      await db.query(`UPDATE inbox SET last_error = $2, parked_at = CASE WHEN $3 THEN now() END,
        next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1::bigint`, [inboxId, error.slice(0, 500), parked, 2 ** attempts])
      return parked ? 'parked' : 'retry'
    },

    /** Newest customer interaction first; the cursor is the last row's (time, psid). */
    async conversations (pageId: string, limit: number, after?: { at: string | null, psid: string }): Promise<Conversation[]> {
      const rows = await db.query<{ psid: string, first_message_at: Date | null, last_customer_message_at: Date | null }>(`
        SELECT psid, first_message_at, last_customer_message_at FROM conversations
        WHERE page_id = $1 AND ($2::timestamptz IS NULL AND $3::text IS NULL
          OR (coalesce(last_customer_message_at, '-infinity'), psid) < (coalesce($2::timestamptz, '-infinity'), $3::text))
        ORDER BY coalesce(last_customer_message_at, '-infinity') DESC, psid DESC LIMIT $4`,
      [pageId, after?.at ?? null, after?.psid ?? null, limit])
      const messages = rows.length === 0
        ? []
        : await db.query<{ psid: string, mid: string, direction: 'in' | 'out', text: string, at: Date }>(
          'SELECT psid, mid, direction, text, at FROM messages WHERE page_id = $1 AND psid = ANY($2::text[]) ORDER BY at DESC, mid DESC',
          [pageId, rows.map(r => r.psid)])
      return rows.map(row => ({
        psid: row.psid,
        firstMessageAt: iso(row.first_message_at),
        lastCustomerMessageAt: iso(row.last_customer_message_at),
        windowOpen: row.last_customer_message_at !== null && Date.now() - new Date(row.last_customer_message_at).getTime() < WINDOW_MS,
        messages: messages.filter(m => m.psid === row.psid).map(m => ({ mid: m.mid, direction: m.direction, text: m.text, at: iso(m.at)! }))
      }))
    }
  }
}

export type MessengerStore = ReturnType<typeof createMessengerStore>
