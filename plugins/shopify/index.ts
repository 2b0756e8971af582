import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import { createShopifyClient, type ShopifyClient } from './client.js'

declare module 'fastify' {
  interface FastifyInstance {
    shopify: ShopifyClient
  }
}

/** The Shopify client, shared by the Shopify routes and the catalog sync; its pool closes with the server. */
export default fp<{ dispatcher?: Dispatcher }>(async (fastify, { dispatcher }) => {
  const client = createShopifyClient(fastify.config, dispatcher === undefined ? {} : { dispatcher })
  fastify.decorate('shopify', client)
  fastify.addHook('onClose', client.close)
}, { name: 'shopify', dependencies: ['config'], fastify: '5.x' })
