import type { Db } from './db.js'

/** Orders attributed to a conversation (and campaign): the order's id, total, currency and time; nothing else. */
export function createOrderStore (db: Db) {
  return {
    /** Attributes an order to the conversation its cart carried, when that Page is of the shop's workspace. */
    async attribute (order: {
      shop: string, orderId: string, total: string, currency: string, at: Date, pageId: string, psid: string, campaignId?: string
    }): Promise<boolean> {
      const rows = await db.query(`
        INSERT INTO attributed_orders (shop, order_id, workspace_id, page_id, psid, campaign_id, total, currency, at)
        SELECT s.shop, $2, s.workspace_id, p.id, $4, (SELECT id FROM campaigns WHERE id = $5::bigint AND workspace_id = s.workspace_id),
          $6::numeric, $7, $8
        FROM shops s JOIN pages p ON p.workspace_id = s.workspace_id AND p.id = $3
        WHERE s.shop = $1
        ON CONFLICT (shop, order_id) DO NOTHING RETURNING order_id`,
      [order.shop, order.orderId, order.pageId, order.psid, order.campaignId ?? null, order.total, order.currency, order.at])
      return rows.length > 0
    },

    /** customers/redact names the customer's orders; shop/redact erases the shop's (with the shop). */
    async erase (shop: string, orderIds?: string[]): Promise<void> {
      if (orderIds === undefined) await db.query('DELETE FROM attributed_orders WHERE shop = $1', [shop])
      else await db.query('DELETE FROM attributed_orders WHERE shop = $1 AND order_id = ANY($2::text[])', [shop, orderIds])
    },

    /** A campaign's attributed orders, and their revenue (in the currency of most of them). */
    async ofCampaign (campaignId: string): Promise<{ orders: number, revenue: { amount: string, currency: string | null } }> {
      const rows = await db.query<{ currency: string, n: number, amount: string }>(`
        SELECT currency, count(*)::integer AS n, sum(total)::text AS amount FROM attributed_orders WHERE campaign_id = $1::bigint
        GROUP BY currency ORDER BY count(*) DESC, currency`, [campaignId])
      const orders = rows.reduce((sum, row) => sum + row.n, 0)
      const main = rows[0]
      const revenue = main === undefined
        ? { amount: '0.00', currency: null }
        : { amount: Number(main.amount).toFixed(2), currency: main.currency }
      return { orders, revenue }
    }
  }
}

export type OrderStore = ReturnType<typeof createOrderStore>
