import { type Db, vacuumEmbedded } from './db.js'

/** How long a delivery's key is kept: the senders retry for hours (Shopify 8 times over 4 hours), not days. */
export const DELIVERY_KEY_DAYS = 7

/** The keys that make a redelivered webhook a no-op: Shopify's webhook ids here, Messenger's event keys in messenger_events. */
export function createDeliveryKeyStore (db: Db) {
  return {
    async shopifySeen (webhookId: string): Promise<boolean> {
      return (await db.query('SELECT 1 FROM shopify_webhooks WHERE webhook_id = $1', [webhookId])).length > 0
    },

    async recordShopify (webhookId: string, shop: string, topic: string): Promise<void> {
      await db.query('INSERT INTO shopify_webhooks (webhook_id, shop, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [webhookId, shop, topic])
    },

    /**
     * The keys matter while their sender retries (Shopify 8 times over 4 hours; Meta gives up on a failing webhook
     * after 8 hours): older than `days`, they are deleted. Shopify's compliance requests (customers/*) stay, as the
     * record of what was asked. Returns how many keys went.
     */
    async forget (days: number): Promise<number> {
      const [row] = await db.query<{ forgotten: number }>(`
        WITH events AS (DELETE FROM messenger_events WHERE at < now() - make_interval(days => $1) RETURNING 1),
          webhooks AS (DELETE FROM shopify_webhooks WHERE received_at < now() - make_interval(days => $1)
            AND topic NOT LIKE 'customers/%' RETURNING 1)
        SELECT ((SELECT count(*) FROM events) + (SELECT count(*) FROM webhooks))::integer AS forgotten`, [days])
      const forgotten = row!.forgotten
      if (forgotten > 0) await vacuumEmbedded(db, ['messenger_events', 'shopify_webhooks'])
      return forgotten
    }
  }
}
