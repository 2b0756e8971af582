import type { Db } from './db.js'

export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'finished' | 'cancelled'

export interface CampaignInput {
  name: string
  text: string
  productIds: string[]
  /** null: every Page of the workspace that can message, when it starts */
  pageIds: string[] | null
  audienceHours: number
  discountCode: string | null
}

export interface Campaign extends CampaignInput {
  id: string
  status: CampaignStatus
  scheduledAt: string | null
  startedAt: string | null
  finishedAt: string | null
  total: number
  createdAt: string
}

/** What became of a campaign's recipients, counted by their first message (the text). */
export interface CampaignCounts {
  total: number
  queued: number
  sent: number
  failed: number
  skipped: { windowClosed: number, optedOut: number, unreachable: number, withHuman: number }
}

interface CampaignRow {
  id: string
  name: string
  text: string
  product_ids: string[]
  page_ids: string[] | null
  audience_hours: number
  discount_code: string | null
  status: CampaignStatus
  scheduled_at: Date | null
  started_at: Date | null
  finished_at: Date | null
  total: number
  created_at: Date
}

const COLUMNS = `id::text AS id, name, text, product_ids, page_ids, audience_hours, discount_code, status, scheduled_at, started_at,
  finished_at, total, created_at`
const iso = (value: Date | null) => value === null ? null : new Date(value).toISOString()
const campaignOf = (row: CampaignRow): Campaign => ({
  id: row.id,
  name: row.name,
  text: row.text,
  productIds: row.product_ids,
  pageIds: row.page_ids,
  audienceHours: row.audience_hours,
  discountCode: row.discount_code,
  status: row.status,
  scheduledAt: iso(row.scheduled_at),
  startedAt: iso(row.started_at),
  finishedAt: iso(row.finished_at),
  total: row.total,
  createdAt: iso(row.created_at)!
})
const SKIP_REASONS = { window_closed: 'windowClosed', opted_out: 'optedOut', unreachable: 'unreachable', with_human: 'withHuman' } as const
const ID = /^[0-9]{1,18}$/

/**
 * Campaigns and their recipients. Starting one turns the conversations of its Pages whose customer wrote within
 * the audience window into outbox rows (source campaign, lower priority than replies) keyed by campaign, Page and
 * customer: each person gets it at most once, across crashes, restarts and replicas. Only a running campaign's rows
 * are sent; each is checked again right before its call.
 */
export function createCampaignStore (db: Db) {
  return {
    async create (workspace: string, input: CampaignInput): Promise<Campaign> {
      const [row] = await db.query<CampaignRow>(`
        INSERT INTO campaigns (workspace_id, name, text, product_ids, page_ids, audience_hours, discount_code)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [workspace, input.name, input.text, JSON.stringify(input.productIds), input.pageIds === null ? null : JSON.stringify(input.pageIds),
        input.audienceHours, input.discountCode])
      return campaignOf(row!)
    },

    async get (workspace: string, id: string): Promise<Campaign | undefined> {
      if (!ID.test(id)) return undefined
      const [row] = await db.query<CampaignRow>(`SELECT ${COLUMNS} FROM campaigns WHERE workspace_id = $1 AND id = $2::bigint`,
        [workspace, id])
      return row === undefined ? undefined : campaignOf(row)
    },

    async list (workspace: string): Promise<Campaign[]> {
      const rows = await db.query<CampaignRow>(`SELECT ${COLUMNS} FROM campaigns WHERE workspace_id = $1 ORDER BY id DESC LIMIT 200`,
        [workspace])
      return rows.map(campaignOf)
    },

    /** Moves the campaign from one of `from` to `to`; false when it was in none of them. */
    async move (workspace: string, id: string, from: CampaignStatus[], to: CampaignStatus, scheduledAt?: Date): Promise<boolean> {
      if (!ID.test(id)) return false
      const rows = await db.query(`UPDATE campaigns SET status = $4, scheduled_at = COALESCE($5, scheduled_at)
        WHERE workspace_id = $1 AND id = $2::bigint AND status = ANY($3::text[]) RETURNING id`,
      [workspace, id, from, to, scheduledAt ?? null])
      return rows.length > 0
    },

    /** Cancels it: what was not sent yet never will be. */
    async cancel (workspace: string, id: string): Promise<boolean> {
      return db.transaction(async tx => {
        if (!ID.test(id)) return false
        const rows = await tx.query(`UPDATE campaigns SET status = 'cancelled', finished_at = now()
          WHERE workspace_id = $1 AND id = $2::bigint AND status IN ('draft', 'scheduled', 'running', 'paused') RETURNING id`,
        [workspace, id])
        if (rows.length === 0) return false
        await tx.query("UPDATE outbox SET status = 'skipped', error = 'cancelled' WHERE campaign_id = $1::bigint AND status = 'queued'",
          [id])
        return true
      })
    },

    /**
     * Starts a draft or scheduled campaign in one transaction: running, and one row per message (`bodies`, in order)
     * per recipient. Returns the number of recipients, or undefined when the campaign was not startable (another
     * replica started it, or it is in another state).
     */
    async start (workspace: string, id: string, bodies: Array<Record<string, unknown>>): Promise<number | undefined> {
      if (!ID.test(id)) return undefined
      const total = await db.transaction(async tx => {
        const [campaign] = await tx.query<{ page_ids: string[] | null, audience_hours: number }>(`
          UPDATE campaigns SET status = 'running', started_at = now()
          WHERE workspace_id = $1 AND id = $2::bigint AND status IN ('draft', 'scheduled') RETURNING page_ids, audience_hours`,
        [workspace, id])
        if (campaign === undefined) return undefined
        // Each recipient's messages are consecutive rows, so they go out together and in order.
        await tx.query(`
          INSERT INTO outbox (dedupe_key, page_id, psid, source, message, campaign_id, campaign_part)
          SELECT 'campaign:' || $2 || ':' || c.page_id || ':' || c.psid || ':' || (part.n - 1), c.page_id, c.psid, 'campaign', part.body,
            $2::bigint, part.n - 1
          FROM conversations c JOIN pages p ON p.id = c.page_id
          CROSS JOIN jsonb_array_elements($3::jsonb) WITH ORDINALITY AS part (body, n)
          WHERE p.workspace_id = $1 AND p.status = 'connected' AND p.can_message
            AND ($4::jsonb IS NULL OR $4::jsonb ? p.id)
            AND c.last_customer_message_at > now() - make_interval(hours => $5)
          ORDER BY c.last_customer_message_at DESC, c.page_id, c.psid, part.n
          ON CONFLICT (dedupe_key) DO NOTHING`,
        [workspace, id, JSON.stringify(bodies), campaign.page_ids === null ? null : JSON.stringify(campaign.page_ids),
          campaign.audience_hours])
        const [counted] = await tx.query<{ total: number }>(`UPDATE campaigns SET total =
          (SELECT count(*) FROM outbox WHERE campaign_id = $1::bigint AND campaign_part = 0) WHERE id = $1::bigint RETURNING total`, [id])
        return counted!.total
      })
      // Thousands of rows at once: the claim's plan depends on the table's statistics, and the embedded store has no
      // autovacuum to renew them (on a server this only comes early).
      if (total !== undefined && total > 0) await db.query('ANALYZE outbox')
      return total
    },

    /** Scheduled campaigns whose time has come, for whoever starts them (start itself decides who does). */
    async due (): Promise<Array<{ workspace: string, id: string }>> {
      const rows = await db.query<{ workspace_id: string, id: string }>(
        `SELECT workspace_id, id::text AS id FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= now()
          ORDER BY scheduled_at LIMIT 20`)
      return rows.map(row => ({ workspace: row.workspace_id, id: row.id }))
    },

    /** Running campaigns with nothing left to send are finished. */
    async finishDone (): Promise<string[]> {
      const rows = await db.query<{ id: string }>(`UPDATE campaigns c SET status = 'finished', finished_at = now()
        WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.campaign_id = c.id AND o.status IN ('queued', 'sending'))
        RETURNING id::text AS id`)
      return rows.map(row => row.id)
    },

    async counts (id: string): Promise<CampaignCounts> {
      const rows = await db.query<{ status: string, error: string | null, n: number }>(`
        SELECT status, error, count(*)::integer AS n FROM outbox WHERE campaign_id = $1::bigint AND campaign_part = 0
        GROUP BY status, error`, [id])
      const skipped = { windowClosed: 0, optedOut: 0, unreachable: 0, withHuman: 0 }
      const counts: CampaignCounts = { total: 0, queued: 0, sent: 0, failed: 0, skipped }
      for (const row of rows) {
        counts.total += row.n
        if (row.status === 'queued' || row.status === 'sending') counts.queued += row.n
        else if (row.status === 'sent') counts.sent += row.n
        else if (row.status === 'failed' || row.status === 'unknown') counts.failed += row.n
        else if (row.status === 'skipped' && row.error !== null && row.error in SKIP_REASONS) {
          counts.skipped[SKIP_REASONS[row.error as keyof typeof SKIP_REASONS]] += row.n
        }
      }
      return counts
    }
  }
}

export type CampaignStore = ReturnType<typeof createCampaignStore>
