import createError from '@fastify/error'
import type { FastifyPluginAsync } from 'fastify'
import { csvList } from '../core/config.js'
import { jsonBody, keepRawJsonBodies } from '../inbox/webhook-delivery.js'
import { startInboxWorker } from '../inbox/worker.js'
import { verifyOrderRef } from '../tokens/click-token.js'
import { signingKeys } from '../tokens/state-token.js'
import { refreshProduct } from './catalog-sync.js'
import { webhookHmacMatches } from './hmac.js'
import { canonicalShop } from './shop-name.js'
import { keptBody, vouchedDelivery } from './webhook-payloads.js'

const BadSignatureError = createError('MSB_SHOPIFY_WEBHOOK_SIGNATURE', 'A valid X-Shopify-Hmac-Sha256 is required.', 401)
const MissingHeadersError = createError('MSB_SHOPIFY_WEBHOOK_HEADERS',
  'X-Shopify-Topic, X-Shopify-Shop-Domain and X-Shopify-Webhook-Id are required.', 400)
const NotJsonError = createError('MSB_SHOPIFY_WEBHOOK_NOT_JSON', 'The body is not JSON.', 400)
const NotVouchedError = createError('MSB_SHOPIFY_WEBHOOK_MISMATCH',
  'The body is not a delivery of this topic for this shop.', 400)

const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024
const HEADER_VALUE = /^[\x21-\x7e]{1,255}$/

interface Delivery { topic: string, shop: string, webhookId: string, body: string }

/**
 * Shopify's webhooks: the HMAC over the exact raw body, then the durable inbox before the 200; processed after,
 * deduplicated by X-Shopify-Webhook-Id (Shopify retries a delivery up to 8 times over 4 hours).
 */
const shopifyWebhooks: FastifyPluginAsync = async (fastify) => {
  const { config, store, shopify } = fastify
  const secrets = [config.SHOPIFY_API_SECRET, config.SHOPIFY_API_SECRET_PREVIOUS].filter(secret => secret !== '')
  const deps = { shopify, store, log: fastify.log }
  const refKeys = signingKeys(csvList(config.STATE_TOKEN_SECRET))

  async function process (delivery: Delivery): Promise<void> {
    const { topic, shop, webhookId } = delivery
    // Checked at the route before it was stored; checked again so the worker acts only on what the body says.
    const vouched = vouchedDelivery(topic, shop, JSON.parse(delivery.body))
    const status = await store.shops.status(shop)
    if (vouched === undefined || status === undefined || await store.deliveryKeys.shopifySeen(webhookId)) return
    switch (vouched.topic) {
      case 'products/create':
      case 'products/update':
        // Read back from the shop itself, never taken from the body. An uninstalled shop or one waiting for its owner
        // cannot be read; its next full sync catches up.
        if (status === 'connected') await refreshProduct(shop, vouched.productId, vouched.updatedAt, deps)
        break
      case 'products/delete':
        await store.catalog.remove(shop, vouched.productId)
        break
      case 'app/uninstalled':
        await store.shops.uninstall(shop)
        break
      case 'shop/redact':
        await store.shops.erase(shop)
        fastify.log.info({ shop }, 'shopify shop erased (shop/redact)')
        break
      case 'orders/create': {
        const ref = vouched.ref === undefined ? undefined : verifyOrderRef(refKeys, vouched.ref)
        const { orderId, total, currency, at } = vouched
        const attributed = ref !== undefined && await store.orders.attribute({ shop, orderId, total, currency, at, ...ref })
        fastify.log.info({ shop, attributed }, 'shopify order seen')
        break
      }
      case 'customers/redact':
        await store.orders.erase(shop, vouched.orderIds)
        fastify.log.info({ shop, topic }, 'shopify customer\'s orders erased (customers/redact)')
        break
      default:
        // customers/data_request: the service keeps no customer's data (an order's attribution names none).
        fastify.log.info({ shop, topic }, 'shopify webhook recorded')
    }
    await store.deliveryKeys.recordShopify(webhookId, shop, topic)
  }

  const worker = startInboxWorker({
    inbox: store.inbox,
    source: 'shopify',
    log: fastify.log,
    batch: 20,
    apply: async items => {
      for (const item of items) await process(JSON.parse(item.body) as Delivery)
      await store.inbox.markProcessed(items.map(item => item.id))
    }
  })
  fastify.addHook('onClose', async () => { await worker.stop() })

  keepRawJsonBodies(fastify, WEBHOOK_BODY_LIMIT)

  fastify.post('/webhooks', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
    const raw = request.body
    if (!Buffer.isBuffer(raw) || !webhookHmacMatches(secrets, raw, request.headers['x-shopify-hmac-sha256'])) throw new BadSignatureError()
    const { 'x-shopify-topic': topic, 'x-shopify-shop-domain': domain, 'x-shopify-webhook-id': webhookId } = request.headers
    const shop = canonicalShop(domain)
    const headerValue = (value: unknown): value is string => typeof value === 'string' && HEADER_VALUE.test(value)
    if (!headerValue(topic) || shop === undefined || !headerValue(webhookId)) {
      throw new MissingHeadersError()
    }
    const { text, value } = jsonBody(raw, NotJsonError)
    const vouched = vouchedDelivery(topic, shop, value)
    if (vouched === undefined) throw new NotVouchedError()
    await worker.store(JSON.stringify({ topic, shop, webhookId, body: keptBody(vouched, text) } satisfies Delivery))
    return reply.type('text/plain; charset=utf-8').send('OK')
  })
}

export default shopifyWebhooks
