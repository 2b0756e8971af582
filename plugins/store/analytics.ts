import type { Db } from './db.js'

export interface DayFigures {
  conversations: number
  customerMessages: number
  botReplies: number
  handovers: number
  clicks: number
  orders: number
  revenue: Array<{ amount: string, currency: string }>
}

interface DayRow {
  day: string
  conversations: number
  customer_messages: number
  bot_replies: number
  handovers: number
  clicks: number
  orders: number
  revenue: Array<{ amount: string, currency: string }> | null
}

/** What a workspace's bot and campaigns did, per UTC day. */
export function createAnalyticsStore (db: Db) {
  return {
    /** One entry per UTC day from `from` to `to` (inclusive, YYYY-MM-DD), days without anything included. */
    async days (workspace: string, from: string, to: string): Promise<Array<{ date: string } & DayFigures>> {
      const rows = await db.query<DayRow>(`
        WITH days AS (SELECT d::date AS day FROM generate_series($2::date, $3::date, interval '1 day') d),
        own AS (SELECT id FROM pages WHERE workspace_id = $1),
        activity AS (
          SELECT day, sum(customer_messages)::integer AS written, sum(conversations_started)::integer AS started FROM daily_activity
          WHERE page_id IN (SELECT id FROM own) AND day BETWEEN $2::date AND $3::date GROUP BY 1
        ), sent AS (
          SELECT (sent_at AT TIME ZONE 'UTC')::date AS day,
            count(*) FILTER (WHERE source = 'bot' AND action = 'message')::integer AS replies,
            count(*) FILTER (WHERE action = 'pass_thread_control')::integer AS handovers
          FROM outbox WHERE status = 'sent' AND ((source = 'bot' AND action = 'message') OR action = 'pass_thread_control')
            AND page_id IN (SELECT id FROM own) AND sent_at >= $2::date AND sent_at < $3::date + 1
          GROUP BY 1
        ), clicked AS (
          SELECT (at AT TIME ZONE 'UTC')::date AS day, count(*)::integer AS n FROM clicks
          WHERE workspace_id = $1 AND at >= $2::date AND at < $3::date + 1 GROUP BY 1
        ), ordered AS (
          SELECT day, sum(n)::integer AS n,
            jsonb_agg(jsonb_build_object('amount', amount::text, 'currency', currency) ORDER BY currency) AS revenue
          FROM (SELECT (at AT TIME ZONE 'UTC')::date AS day, currency, count(*) AS n, sum(total) AS amount FROM attributed_orders
            WHERE workspace_id = $1 AND at >= $2::date AND at < $3::date + 1 GROUP BY 1, 2) per_currency
          GROUP BY day
        )
        SELECT to_char(days.day, 'YYYY-MM-DD') AS day, coalesce(activity.started, 0) AS conversations,
          coalesce(activity.written, 0) AS customer_messages,
          coalesce(sent.replies, 0) AS bot_replies, coalesce(sent.handovers, 0) AS handovers, coalesce(clicked.n, 0) AS clicks,
          coalesce(ordered.n, 0) AS orders, ordered.revenue
        FROM days LEFT JOIN activity USING (day) LEFT JOIN sent USING (day)
          LEFT JOIN clicked USING (day) LEFT JOIN ordered USING (day)
        ORDER BY days.day`, [workspace, from, to])
      return rows.map(row => ({
        date: row.day,
        conversations: row.conversations,
        customerMessages: row.customer_messages,
        botReplies: row.bot_replies,
        handovers: row.handovers,
        clicks: row.clicks,
        orders: row.orders,
        revenue: (row.revenue ?? []).map(entry => ({ amount: Number(entry.amount).toFixed(2), currency: entry.currency }))
      }))
    }
  }
}

export type AnalyticsStore = ReturnType<typeof createAnalyticsStore>

/** The figures of several days added up (revenue per currency, exact to the cent). */
export function totalOf (days: DayFigures[]): DayFigures {
  const sums: DayFigures = { conversations: 0, customerMessages: 0, botReplies: 0, handovers: 0, clicks: 0, orders: 0, revenue: [] }
  const revenue = new Map<string, number>()
  for (const day of days) {
    sums.conversations += day.conversations
    sums.customerMessages += day.customerMessages
    sums.botReplies += day.botReplies
    sums.handovers += day.handovers
    sums.clicks += day.clicks
    sums.orders += day.orders
    // In cents, so sums of decimal amounts are exact.
    for (const { amount, currency } of day.revenue) revenue.set(currency, (revenue.get(currency) ?? 0) + Math.round(Number(amount) * 100))
  }
  sums.revenue = [...revenue].sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, cents]) => ({ amount: (cents / 100).toFixed(2), currency }))
  return sums
}
