import type { Db } from './db.js'

export type OutboxSource = 'bot' | 'human' | 'campaign'
export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'skipped' | 'unknown'
/** a message, or the conversation's hand-over to the Page Inbox (queued after the notice that announces it) */
export type OutboxAction = 'message' | 'pass_thread_control'

export interface OutboxInput {
  /** makes queueing idempotent: the same key is the same message (a reply is keyed by the message it answers) */
  dedupeKey: string
  pageId: string
  psid: string
  source: OutboxSource
  /** the Send API's `message` object (for a hand-over: `{ metadata }`) */
  message: Record<string, unknown>
  action?: OutboxAction
}

/** A row claimed for sending, with what the policy needs to decide again right before the call. */
export interface ClaimedMessage {
  id: string
  pageId: string
  psid: string
  source: OutboxSource
  action: OutboxAction
  message: Record<string, unknown>
  /** the campaign it belongs to, if any */
  campaignId: string | null
  attempts: number
  lastCustomerMessageAt: Date | null
  unreachable: boolean
  optedOut: boolean
  withHuman: boolean
}

export interface OutboxItem {
  id: string
  pageId: string
  psid: string
  source: OutboxSource
  status: OutboxStatus
  error: string | null
  createdAt: string
  sentAt: string | null
  messageId: string | null
}

export interface ConversationState { lastCustomerMessageAt: Date | null, unreachable: boolean }

const MAX_ATTEMPTS = 5
const ENDED_LEASE = `status = CASE WHEN called_at IS NULL THEN 'queued' ELSE 'unknown' END,
  error = CASE WHEN called_at IS NULL THEN error ELSE 'no_answer' END,
  attempts = CASE WHEN called_at IS NULL THEN attempts - 1 ELSE attempts END, lease_until = NULL`
const iso = (value: Date | string | null) => value === null ? null : new Date(value).toISOString()

/**
 * The outbox: every message the service sends is a row before it is a Graph call. A row goes queued -> sending
 * (claimed with a lease, committed before the call) -> sent / queued again (retry) / failed / skipped; a sending row
 * whose lease ran out got no answer we know of and becomes unknown: it is never sent again automatically.
 */
export function createOutboxStore (db: Db) {
  return {
    /** Queues a message once per key; a key seen before returns the row it made. */
    async enqueue (input: OutboxInput): Promise<{ id: string, status: OutboxStatus, created: boolean }> {
      const [created] = await db.query<{ id: string, status: OutboxStatus }>(`
        INSERT INTO outbox (dedupe_key, page_id, psid, source, message, action) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (dedupe_key) DO NOTHING RETURNING id::text AS id, status`,
      [input.dedupeKey, input.pageId, input.psid, input.source, JSON.stringify(input.message), input.action ?? 'message'])
      if (created !== undefined) return { ...created, created: true }
      const [existing] = await db.query<{ id: string, status: OutboxStatus }>(
        'SELECT id::text AS id, status FROM outbox WHERE dedupe_key = $1', [input.dedupeKey])
      return { ...existing!, created: false }
    },

    /** Whether a message with this key was ever queued. */
    async queued (dedupeKey: string): Promise<boolean> {
      return (await db.query('SELECT 1 FROM outbox WHERE dedupe_key = $1', [dedupeKey])).length > 0
    },

    /**
     * Leases due rows for `sender`: first the Pages it may send for (one sender at a time holds a Page, so the Page's
     * rate holds across replicas), then at most `perPage` rows of each, at most one per conversation and only its
     * oldest unfinished one (a customer gets messages in the order they were queued), from Pages that are connected
     * and not paused. SKIP LOCKED keeps a row from being claimed twice while a Page's lease changes hands.
     */
    async claim (sender: string, options: { limit: number, perPage: number, leaseSeconds: number, pageLeaseSeconds: number }):
    Promise<ClaimedMessage[]> {
      await db.query(`
        UPDATE pages SET sender_id = $1, sender_lease_until = now() + make_interval(secs => $2)
        WHERE status = 'connected' AND (sender_id = $1 OR sender_lease_until IS NULL OR sender_lease_until < now())
          AND EXISTS (SELECT 1 FROM outbox o WHERE o.page_id = pages.id AND o.status = 'queued' AND o.next_attempt_at <= now())`,
      [sender, options.pageLeaseSeconds])
      const rows = await db.query<{
        id: string,
        page_id: string,
        psid: string,
        source: OutboxSource,
        action: OutboxAction,
        message: Record<string, unknown>,
        campaign_id: string | null,
        attempts: number,
        last_customer_message_at: Date | null,
        unreachable: boolean | null,
        opted_out: boolean | null,
        with_human: boolean | null
      }>(`
        WITH leased AS (
          SELECT p.id FROM pages p WHERE p.status = 'connected' AND p.sender_id = $3 AND p.sender_lease_until > now()
            AND (p.sends_paused_until IS NULL OR p.sends_paused_until <= now())
        ), due AS (
          -- Each Page's queue in order through its index, stopping at the rows wanted: the cost follows the rows
          -- claimed, not the length of the queue (a campaign queues thousands at once).
          SELECT next.id FROM leased CROSS JOIN LATERAL (
            SELECT o.id FROM outbox o
            WHERE o.page_id = leased.id AND o.status = 'queued' AND o.next_attempt_at <= now()
              AND (o.campaign_id IS NULL OR EXISTS (SELECT 1 FROM campaigns k WHERE k.id = o.campaign_id AND k.status = 'running'))
              AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.page_id = o.page_id AND e.psid = o.psid AND e.id < o.id
                AND e.status IN ('queued', 'sending'))
            ORDER BY o.source = 'campaign', o.next_attempt_at, o.id LIMIT LEAST($4::integer, $1::integer)
          ) next
        ), claimed AS (
          UPDATE outbox SET status = 'sending', attempts = attempts + 1, lease_until = now() + make_interval(secs => $2)
          WHERE id IN (
            SELECT o.id FROM outbox o WHERE o.id IN (SELECT id FROM due) AND o.status = 'queued'
            ORDER BY o.source = 'campaign', o.next_attempt_at, o.id LIMIT $1 FOR UPDATE SKIP LOCKED
          )
          RETURNING id, page_id, psid, source, action, message, campaign_id, attempts
        )
        SELECT claimed.id::text AS id, claimed.page_id, claimed.psid, claimed.source, claimed.action, claimed.message,
          claimed.campaign_id::text AS campaign_id, claimed.attempts, c.last_customer_message_at, c.unreachable, c.opted_out, c.with_human
        FROM claimed LEFT JOIN conversations c ON c.page_id = claimed.page_id AND c.psid = claimed.psid
        ORDER BY claimed.source = 'campaign', claimed.id`, [options.limit, options.leaseSeconds, sender, options.perPage])
      return rows.map(row => ({
        id: row.id,
        pageId: row.page_id,
        psid: row.psid,
        source: row.source,
        action: row.action,
        message: row.message,
        campaignId: row.campaign_id,
        attempts: row.attempts,
        lastCustomerMessageAt: row.last_customer_message_at === null ? null : new Date(row.last_customer_message_at),
        unreachable: row.unreachable === true,
        optedOut: row.opted_out === true,
        withHuman: row.with_human === true
      }))
    },

    /** A sender stopping lets go of its Pages, so another replica sends for them without waiting out the lease. */
    async releasePages (sender: string): Promise<void> {
      await db.query('UPDATE pages SET sender_id = NULL, sender_lease_until = NULL WHERE sender_id = $1', [sender])
    },

    /**
     * Rows whose sender stopped answering (its lease ran out): one whose call had begun may have reached Meta, so it is
     * unknown and never sent again; one still waiting for its slot was never sent, and is queued again.
     */
    async expireLeases (): Promise<number> {
      const rows = await db.query(`UPDATE outbox SET ${ENDED_LEASE} WHERE status = 'sending' AND lease_until < now() RETURNING id`)
      return rows.length
    },

    /** At start on the embedded store: no other process shares it, so every lease (a row's, a Page's) is a dead run's. */
    async endDeadLeases (): Promise<void> {
      if (!db.exclusive) return
      await db.query(`UPDATE outbox SET ${ENDED_LEASE} WHERE status = 'sending'`)
      await db.query('UPDATE pages SET sender_id = NULL, sender_lease_until = NULL WHERE sender_id IS NOT NULL')
    },

    /** Its call begins: from now on, a crash leaves it unknown rather than queued. */
    async calling (ids: string[]): Promise<void> {
      await db.query('UPDATE outbox SET called_at = now() WHERE id = ANY($1::bigint[])', [ids])
    },

    /** Meta took them: a message with its id and how it was sent; a hand-over with neither. */
    async sent (rows: Array<{ id: string, messageId: string | null, messagingType: string | null, tag: string | null }>): Promise<void> {
      await db.query(`UPDATE outbox o SET status = 'sent', message_id = t.message_id, messaging_type = t.messaging_type, tag = t.tag,
        sent_at = now(), lease_until = NULL, error = NULL
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t (id, message_id, messaging_type, tag) WHERE o.id = t.id`,
      [rows.map(row => row.id), rows.map(row => row.messageId), rows.map(row => row.messagingType), rows.map(row => row.tag)])
    },

    /** Backs off exponentially; after the last attempt the row fails. Returns what became of it. */
    async retry (id: string, attempts: number, error: string): Promise<'queued' | 'failed'> {
      const failed = attempts >= MAX_ATTEMPTS
      await db.query(`UPDATE outbox SET status = CASE WHEN $3 THEN 'failed' ELSE 'queued' END, error = $2, lease_until = NULL,
        called_at = NULL,
        next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1::bigint`, [id, error.slice(0, 200), failed, 2 ** attempts])
      return failed ? 'failed' : 'queued'
    },

    /** Gives a claimed row back untouched (its Page was paused before the call): due again after `seconds`. */
    async putBack (id: string, seconds: number): Promise<void> {
      await db.query(`UPDATE outbox SET status = 'queued', attempts = attempts - 1, lease_until = NULL, called_at = NULL,
        next_attempt_at = now() + make_interval(secs => $2) WHERE id = $1::bigint`, [id, seconds])
    },

    async finish (id: string, status: 'failed' | 'skipped' | 'unknown', error: string): Promise<void> {
      await db.query('UPDATE outbox SET status = $2, error = $3, lease_until = NULL WHERE id = $1::bigint',
        [id, status, error.slice(0, 200)])
    },

    /** Meta said the person cannot be reached: the conversation gets nothing more. */
    async markUnreachable (pageId: string, psid: string): Promise<void> {
      await db.query('UPDATE conversations SET unreachable = true WHERE page_id = $1 AND psid = $2', [pageId, psid])
    },

    async pausePage (pageId: string, seconds: number): Promise<void> {
      await db.query('UPDATE pages SET sends_paused_until = now() + make_interval(secs => $2) WHERE id = $1', [pageId, seconds])
    },

    /** The workspace's outbox, newest first; the cursor is the last row's id. */
    async list (workspace: string, options: { status?: OutboxStatus, limit: number, before?: string }): Promise<OutboxItem[]> {
      const rows = await db.query<{
        id: string,
        page_id: string,
        psid: string,
        source: OutboxSource,
        status: OutboxStatus,
        error: string | null,
        created_at: Date,
        sent_at: Date | null,
        message_id: string | null
      }>(`
        SELECT o.id::text AS id, o.page_id, o.psid, o.source, o.status, o.error, o.created_at, o.sent_at, o.message_id
        FROM outbox o JOIN pages p ON p.id = o.page_id
        WHERE p.workspace_id = $1 AND o.action = 'message' AND ($2::text IS NULL OR o.status = $2)
          AND ($3::bigint IS NULL OR o.id < $3::bigint)
        ORDER BY o.id DESC LIMIT $4`, [workspace, options.status ?? null, options.before ?? null, options.limit])
      return rows.map(row => ({
        id: row.id,
        pageId: row.page_id,
        psid: row.psid,
        source: row.source,
        status: row.status,
        error: row.error,
        createdAt: iso(row.created_at)!,
        sentAt: iso(row.sent_at),
        messageId: row.message_id
      }))
    },

    /** What a person's reply needs to know of the conversation; undefined when there is none. */
    async conversation (pageId: string, psid: string): Promise<ConversationState | undefined> {
      const [row] = await db.query<{ last_customer_message_at: Date | null, unreachable: boolean }>(
        'SELECT last_customer_message_at, unreachable FROM conversations WHERE page_id = $1 AND psid = $2', [pageId, psid])
      if (row === undefined) return undefined
      return {
        lastCustomerMessageAt: row.last_customer_message_at === null ? null : new Date(row.last_customer_message_at),
        unreachable: row.unreachable
      }
    }
  }
}

export type OutboxStore = ReturnType<typeof createOutboxStore>
