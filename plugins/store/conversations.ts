import type { Cipher } from './cipher.js'
import type { Db } from './db.js'
import { DELIVERY_KEY_DAYS } from './delivery-keys.js'

/** What a delivery brings to a conversation; a provider's parser produces these. */
export type ConversationEvent =
  | {
    kind: 'message',
    pageId: string,
    psid: string,
    mid: string,
    direction: 'in' | 'out',
    text: string,
    at: Date,
    fromCustomer: boolean,
    /** a quick reply's or a postback's payload: what the bot acts on; not stored */
    payload?: string
    /** arrived on standby: another app (the Page Inbox) has the conversation; stored, never answered */
    standby?: true
  }
  | { kind: 'read', pageId: string, psid: string, key: string, at: Date }
  | { kind: 'optin', pageId: string, psid: string, key: string, at: Date, notificationToken?: NotificationToken }

interface NotificationToken { token: string, frequency: string, expiresAt: Date | null }

export type MessageEvent = Extract<ConversationEvent, { kind: 'message' }>

const KEPT_MESSAGES = 20
const WINDOW_MS = 24 * 60 * 60 * 1000

export interface Conversation {
  psid: string
  firstMessageAt: string | null
  lastCustomerMessageAt: string | null
  windowOpen: boolean
  withHuman: boolean
  unreachable: boolean
  optedOut: boolean
  messages: Array<{ mid: string, direction: 'in' | 'out', text: string, at: string }>
}

const iso = (value: Date | string | null) => value === null ? null : new Date(value).toISOString()

/** A conversation as the owner's console lists it: which Page, its state, and its last message. */
export interface ConversationListing {
  pageId: string
  pageName: string
  psid: string
  lastCustomerMessageAt: string | null
  windowOpen: boolean
  withHuman: boolean
  unreachable: boolean
  optedOut: boolean
  lastMessage: { direction: 'in' | 'out', text: string } | null
}

export interface StoredMessage { mid: string, direction: 'in' | 'out', text: string, at: string }

/** Where a listing continues: the last row's customer time, Page and PSID. */
export interface ListingCursor { at: string | null, pageId: string, psid: string }

interface ListingRow {
  page_id: string
  page_name: string
  psid: string
  last_customer_message_at: Date | null
  with_human: boolean
  unreachable: boolean
  opted_out: boolean
  last_direction: 'in' | 'out' | null
  last_text: string | null
}

const windowOpen = (at: Date | string | null, now: number) => at !== null && now - new Date(at).getTime() < WINDOW_MS

const DAY_MS = 24 * 60 * 60 * 1000

/** The key that makes an event's redelivery a no-op: its message id, or what Meta's event says (page, customer, time). */
const deliveryKey = (event: ConversationEvent) => event.kind === 'message' ? `mid:${event.mid}` : event.key

export const notificationTokenAad = (pageId: string, psid: string) => `notification-token:${pageId}:${psid}`

/** Applying deliveries to conversations, and the conversations with their last messages. */
export function createConversationStore (db: Db, cipher: Cipher) {
  /**
   * Applies events and removes their inbox items in one statement (atomic by itself): on the embedded store every
   * statement costs about a millisecond, so a burst costs a few, not a few per message. Returns the messages that
   * were new. Each step is idempotent, so events applied again change nothing.
   */
  async function applyEvents (incoming: ConversationEvent[], inboxIds: string[], now: number): Promise<MessageEvent[]> {
    // Past the keys' retention a replay could no longer be recognised, so an event that old is refused outright.
    const oldest = now - DELIVERY_KEY_DAYS * DAY_MS
    const byKey = new Map<string, ConversationEvent>()
    for (const event of incoming) {
      const key = deliveryKey(event)
      if (event.at.getTime() >= oldest && !byKey.has(key)) byKey.set(key, event)
    }
    const events = [...byKey.values()]
    for (const event of events) {
      if (event.kind !== 'optin' || event.notificationToken === undefined) continue
      // Kept for the promotions capability: a marketing-messages token is a credential, sealed like Page tokens.
      // Only a newer opt-in replaces the stored token, so an old one replayed cannot roll it back.
      const sealed = cipher.seal(event.notificationToken.token, notificationTokenAad(event.pageId, event.psid))
      await db.query(`INSERT INTO notification_tokens (page_id, psid, token_ciphertext, token_key_id, frequency, expires_at, opted_in_at)
        SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM pages WHERE id = $1)
        ON CONFLICT (page_id, psid) DO UPDATE SET token_ciphertext = excluded.token_ciphertext,
          token_key_id = excluded.token_key_id, frequency = excluded.frequency, expires_at = excluded.expires_at,
          opted_in_at = excluded.opted_in_at, updated_at = now()
        WHERE notification_tokens.opted_in_at IS NULL OR notification_tokens.opted_in_at < excluded.opted_in_at`,
      [event.pageId, event.psid, sealed.ciphertext, sealed.keyId, event.notificationToken.frequency,
        event.notificationToken.expiresAt, event.at])
    }
    const rows = events.map(event => event.kind === 'message'
      ? {
          kind: 'message',
          key: deliveryKey(event),
          page_id: event.pageId,
          psid: event.psid,
          at: event.at,
          mid: event.mid,
          direction: event.direction,
          text: event.text,
          from_customer: event.fromCustomer
        }
      : { kind: event.kind, key: deliveryKey(event), page_id: event.pageId, psid: event.psid, at: event.at })
    // Every event leaves its key, messages included (they outlive the 20 messages a conversation keeps), so a
    // delivery replayed within the keys' retention changes nothing; an event for a Page not connected is recorded
    // as dropped under the same key, so its replays add nothing either.
    const results = await db.query<{ mid: string, overfull: boolean }>(`
      WITH incoming AS (
        SELECT t.*, EXISTS (SELECT 1 FROM pages WHERE pages.id = t.page_id) AS connected
        FROM jsonb_to_recordset($1::jsonb) AS t (kind text, key text, page_id text, psid text, at timestamptz,
          mid text, direction text, text text, from_customer boolean)
      ), recorded AS (
        INSERT INTO messenger_events (key, kind, page_id, psid, at)
        SELECT key, CASE WHEN connected THEN kind ELSE 'dropped' END, page_id, psid, at FROM incoming
        ON CONFLICT (key) DO NOTHING RETURNING key
      ), fresh AS (
        INSERT INTO messages (mid, page_id, psid, direction, text, at)
        SELECT mid, page_id, psid, direction, text, at FROM incoming
        WHERE kind = 'message' AND connected AND key IN (SELECT key FROM recorded)
        ON CONFLICT (mid) DO NOTHING RETURNING mid, page_id, psid
      ), touched AS (
        INSERT INTO conversations (page_id, psid, first_message_at, last_customer_message_at, message_count)
        SELECT page_id, psid, min(incoming.at), max(incoming.at) FILTER (WHERE from_customer), count(*)
        FROM fresh JOIN incoming USING (mid, page_id, psid) GROUP BY page_id, psid
        ON CONFLICT (page_id, psid) DO UPDATE SET
          first_message_at = LEAST(conversations.first_message_at, excluded.first_message_at),
          last_customer_message_at = GREATEST(conversations.last_customer_message_at, excluded.last_customer_message_at),
          message_count = conversations.message_count + excluded.message_count
        RETURNING page_id, psid, message_count > ${KEPT_MESSAGES} AS overfull, xmax = 0 AS created, first_message_at
      ), counted AS (
        -- A conversation counts as started on the day of the first message stored for it (one older by days arriving
        -- later does not move it): the analytics then read a row per day instead of every conversation.
        INSERT INTO daily_activity (page_id, day, customer_messages, conversations_started)
        SELECT page_id, day, sum(messages), sum(started) FROM (
          SELECT page_id, (incoming.at AT TIME ZONE 'UTC')::date AS day, count(*) AS messages, 0 AS started
          FROM fresh JOIN incoming USING (mid, page_id, psid) WHERE from_customer GROUP BY 1, 2
          UNION ALL
          SELECT page_id, (first_message_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM touched WHERE created GROUP BY 1, 2
        ) activity GROUP BY 1, 2
        ON CONFLICT (page_id, day) DO UPDATE SET customer_messages = daily_activity.customer_messages + excluded.customer_messages,
          conversations_started = daily_activity.conversations_started + excluded.conversations_started
      ), processed AS (
        DELETE FROM inbox WHERE id = ANY($2::bigint[])
      )
      SELECT mid, overfull FROM fresh JOIN touched USING (page_id, psid)`, [JSON.stringify(rows), inboxIds])
    const inserted = new Set(results.map(row => row.mid))
    const past = new Set(results.filter(row => row.overfull).map(row => row.mid))
    const fresh = events.filter((event): event is MessageEvent => event.kind === 'message' && inserted.delete(event.mid))
    const overfull = fresh.filter(message => past.has(message.mid))
    if (overfull.length > 0) {
      // Per conversation through its (page, psid, at) index: the cost follows the conversations touched, not the table.
      await db.query(`WITH trimmed AS (
          DELETE FROM messages WHERE mid IN (
            SELECT older.mid FROM (SELECT DISTINCT page_id, psid FROM jsonb_to_recordset($1::jsonb) AS t (page_id text, psid text)) c
            CROSS JOIN LATERAL (SELECT mid FROM messages m WHERE m.page_id = c.page_id AND m.psid = c.psid
              ORDER BY m.at DESC, m.mid DESC OFFSET ${KEPT_MESSAGES}) older)
          RETURNING page_id, psid
        )
        UPDATE conversations c SET message_count = c.message_count - gone.n
        FROM (SELECT page_id, psid, count(*)::integer AS n FROM trimmed GROUP BY page_id, psid) gone
        WHERE c.page_id = gone.page_id AND c.psid = gone.psid`,
      [JSON.stringify(overfull.map(m => ({ page_id: m.pageId, psid: m.psid })))])
    }
    return fresh
  }

  return {
    /** The events of several inbox items, which leave the inbox in the same statement. */
    apply: (items: Array<{ id: string, events: ConversationEvent[] }>, now = Date.now()) =>
      applyEvents(items.flatMap(item => item.events), items.map(item => item.id), now),

    /** Messages the service sent: they join their conversations, and Meta's echoes of them will be redeliveries. */
    recordSent: (messages: MessageEvent[]) => applyEvents(messages, [], Date.now()).then(() => undefined),

    /** The conversation's last `limit` messages, oldest first: their direction and text, nothing else. */
    async recentMessages (pageId: string, psid: string, limit: number): Promise<Array<{ direction: 'in' | 'out', text: string }>> {
      const rows = await db.query<{ direction: 'in' | 'out', text: string }>(
        'SELECT direction, text FROM messages WHERE page_id = $1 AND psid = $2 ORDER BY at DESC, mid DESC LIMIT $3', [pageId, psid, limit])
      return rows.reverse()
    },

    /**
     * A workspace's conversations over all its Pages, newest customer message first, each with its last message;
     * `pageId` and `psid` narrow it to one conversation.
     */
    async listing (workspace: string, options: { limit: number, after?: ListingCursor, pageId?: string, psid?: string }):
    Promise<ConversationListing[]> {
      const { limit, after, pageId, psid } = options
      // The page of conversations first, then the last message of those only (not of every conversation sorted).
      const rows = await db.query<ListingRow>(`
        WITH chosen AS (
          SELECT c.page_id, p.name AS page_name, c.psid, c.last_customer_message_at, c.with_human, c.unreachable, c.opted_out
          FROM conversations c JOIN pages p ON p.id = c.page_id
          WHERE p.workspace_id = $1 AND ($5::text IS NULL OR c.page_id = $5) AND ($6::text IS NULL OR c.psid = $6)
            AND ($3::text IS NULL OR (coalesce(c.last_customer_message_at, '-infinity'), c.page_id, c.psid)
              < (coalesce($2::timestamptz, '-infinity'), $3::text, $4::text))
          ORDER BY coalesce(c.last_customer_message_at, '-infinity') DESC, c.page_id DESC, c.psid DESC LIMIT $7
        )
        SELECT chosen.*, last.direction AS last_direction, last.text AS last_text FROM chosen
        LEFT JOIN LATERAL (SELECT direction, text FROM messages m WHERE m.page_id = chosen.page_id AND m.psid = chosen.psid
          ORDER BY m.at DESC, m.mid DESC LIMIT 1) last ON true
        ORDER BY coalesce(chosen.last_customer_message_at, '-infinity') DESC, chosen.page_id DESC, chosen.psid DESC`,
      [workspace, after?.at ?? null, after?.pageId ?? null, after?.psid ?? null, pageId ?? null, psid ?? null, limit])
      const now = Date.now()
      return rows.map(row => ({
        pageId: row.page_id,
        pageName: row.page_name,
        psid: row.psid,
        lastCustomerMessageAt: iso(row.last_customer_message_at),
        windowOpen: windowOpen(row.last_customer_message_at, now),
        withHuman: row.with_human,
        unreachable: row.unreachable,
        optedOut: row.opted_out,
        lastMessage: row.last_direction === null ? null : { direction: row.last_direction, text: row.last_text ?? '' }
      }))
    },

    /** The conversation's messages kept (the last few), oldest first; with `after`, only those stored after it. */
    async messages (pageId: string, psid: string, after?: { at: string, mid: string }): Promise<StoredMessage[]> {
      const rows = await db.query<{ mid: string, direction: 'in' | 'out', text: string, at: Date }>(`
        SELECT mid, direction, text, at FROM messages WHERE page_id = $1 AND psid = $2
          AND ($3::timestamptz IS NULL OR (at, mid) > ($3::timestamptz, $4::text))
        ORDER BY at, mid`, [pageId, psid, after?.at ?? null, after?.mid ?? null])
      return rows.map(row => ({ mid: row.mid, direction: row.direction, text: row.text, at: iso(row.at)! }))
    },

    /** Newest customer interaction first; the cursor is the last row's (time, psid). */
    async conversations (pageId: string, limit: number, after?: { at: string | null, psid: string }): Promise<Conversation[]> {
      const rows = await db.query<{
        psid: string,
        first_message_at: Date | null,
        last_customer_message_at: Date | null,
        with_human: boolean,
        unreachable: boolean,
        opted_out: boolean
      }>(`
        SELECT psid, first_message_at, last_customer_message_at, with_human, unreachable, opted_out FROM conversations
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
        windowOpen: windowOpen(row.last_customer_message_at, Date.now()),
        withHuman: row.with_human,
        unreachable: row.unreachable,
        optedOut: row.opted_out,
        messages: messages.filter(m => m.psid === row.psid).map(m => ({ mid: m.mid, direction: m.direction, text: m.text, at: iso(m.at)! }))
      }))
    }
  }
}

export type ConversationStore = ReturnType<typeof createConversationStore>
