import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import { csvList } from '../core/config.js'
import { syncCatalog } from './catalog-sync.js'
import { createShopifyClient, type ShopifyClient } from './client.js'
import { subscribeWebhooks, topicsFor } from './webhook-subscriptions.js'

export interface CatalogSyncs {
  /** Starts a full sync in the background; false when one is already running for the shop (it absorbs this one). */
  start (shop: string): boolean
  /** After an install: subscribes the shop's webhooks, then syncs its catalog, in the background. */
  installed (shop: string): void
}

declare module 'fastify' {
  interface FastifyInstance {
    shopify: ShopifyClient
    catalogSyncs: CatalogSyncs
  }
}

/**
 * The Shopify client and the catalog syncs, shared by the Shopify routes and the admin API. Closing the server
 * stops running syncs before their next page, then closes the client's pools.
 */
export default fp<{ dispatcher?: Dispatcher }>(async (fastify, { dispatcher }) => {
  const { config } = fastify
  const client = createShopifyClient({
    apiKey: config.SHOPIFY_API_KEY,
    apiSecret: config.SHOPIFY_API_SECRET,
    apiVersion: config.SHOPIFY_API_VERSION,
    shopOrigin: config.SHOPIFY_SHOP_ORIGIN,
    timeoutMs: config.SHOPIFY_TIMEOUT_MS,
    ...(dispatcher === undefined ? {} : { dispatcher })
  })
  const running = new Map<string, Promise<unknown>>()
  const closing = new AbortController()
  fastify.decorate('shopify', client)
  const deps = {
    shopify: client,
    store: fastify.store,
    log: fastify.log,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    topics: topicsFor(csvList(config.SHOPIFY_SCOPES))
  }
  const track = (shop: string, work: () => Promise<unknown>) => {
    const done = work().catch(err => fastify.log.warn({ shop, err }, 'shopify background work failed')).finally(() => running.delete(shop))
    running.set(shop, done)
  }
  fastify.decorate('catalogSyncs', {
    start (shop: string) {
      if (running.has(shop)) return false
      track(shop, () => syncCatalog(shop, { ...deps, signal: closing.signal }))
      return true
    },
    installed (shop: string) {
      if (running.has(shop)) return
      track(shop, async () => {
        const topics = await subscribeWebhooks(shop, deps).catch(err => {
          fastify.log.warn({ shop, err }, 'shopify webhooks not subscribed')
          return []
        })
        fastify.log.info({ shop, topics }, 'shopify webhooks subscribed')
        await syncCatalog(shop, { ...deps, signal: closing.signal })
      })
    }
  } satisfies CatalogSyncs)
  fastify.addHook('onClose', async () => {
    closing.abort()
    await Promise.all(running.values())
    await client.close()
  })
}, { name: 'shopify', dependencies: ['config', 'store'], fastify: '5.x' })
