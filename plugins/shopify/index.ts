import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import { syncCatalog } from './catalog-sync.js'
import { createShopifyClient, type ShopifyClient } from './client.js'

export interface CatalogSyncs {
  /** Starts a full sync in the background; false when one is already running for the shop (it absorbs this one). */
  start (shop: string): boolean
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
  const client = createShopifyClient(fastify.config, dispatcher === undefined ? {} : { dispatcher })
  const running = new Map<string, Promise<unknown>>()
  const closing = new AbortController()
  fastify.decorate('shopify', client)
  fastify.decorate('catalogSyncs', {
    start (shop: string) {
      if (running.has(shop)) return false
      const sync = syncCatalog(shop, { shopify: client, store: fastify.store, log: fastify.log, signal: closing.signal })
        .catch(() => {}) // recorded in the store and logged by the sync
        .finally(() => running.delete(shop))
      running.set(shop, sync)
      return true
    }
  } satisfies CatalogSyncs)
  fastify.addHook('onClose', async () => {
    closing.abort()
    await Promise.all(running.values())
    await client.close()
  })
}, { name: 'shopify', dependencies: ['config', 'store'], fastify: '5.x' })
