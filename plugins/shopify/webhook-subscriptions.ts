import { Type } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { Store } from '../store/index.js'
import type { ShopifyClient } from './client.js'

export const WEBHOOK_TOPICS = ['PRODUCTS_CREATE', 'PRODUCTS_UPDATE', 'PRODUCTS_DELETE', 'APP_UNINSTALLED'] as const

/** The topics a shop is subscribed to: with `read_orders` granted by the scopes, new orders too (for attribution). */
export const topicsFor = (scopes: string[]): string[] =>
  scopes.includes('read_orders') ? [...WEBHOOK_TOPICS, 'ORDERS_CREATE'] : [...WEBHOOK_TOPICS]

export const SUBSCRIBE_MUTATION = `mutation Subscribe($topic: WebhookSubscriptionTopic!, $callbackUrl: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { callbackUrl: $callbackUrl, format: JSON }) {
    webhookSubscription { id }
    userErrors { field message }
  }
}`

const Answer = Type.Object({
  data: Type.Optional(Type.Object({
    webhookSubscriptionCreate: Type.Union([Type.Null(), Type.Object({ userErrors: Type.Array(Type.Object({ message: Type.String() })) })])
  })),
  errors: Type.Optional(Type.Array(Type.Object({ message: Type.String() })))
})

export interface SubscriptionDependencies {
  shopify: ShopifyClient
  store: Store
  log: FastifyBaseLogger
  /** PUBLIC_BASE_URL: where Shopify delivers */
  publicBaseUrl: string
  /** the topics to subscribe (topicsFor the configured scopes); the catalog's and the uninstall's when absent */
  topics?: readonly string[]
}

/**
 * Subscribes a freshly installed shop to the topics that keep its catalog true and tell us it left. Shopify
 * answers "already taken" for a topic subscribed before (a reinstall), which is as good as a subscription.
 */
export async function subscribeWebhooks (shop: string, deps: SubscriptionDependencies): Promise<string[]> {
  const { shopify, store, log } = deps
  const callbackUrl = `${deps.publicBaseUrl}/shopify/webhooks`
  const subscribed: string[] = []
  for (const topic of deps.topics ?? WEBHOOK_TOPICS) {
    const token = await store.shops.accessToken(shop, refreshToken => shopify.refresh(shop, refreshToken))
    const answer = await shopify.graphql(shop, token, SUBSCRIBE_MUTATION, { topic, callbackUrl }, Answer)
    const problems = [...(answer.errors ?? []), ...(answer.data?.webhookSubscriptionCreate?.userErrors ?? [])].map(e => e.message)
    if (problems.every(message => /already been taken/i.test(message))) subscribed.push(topic)
    else log.warn({ shop, topic, problems }, 'shopify webhook subscription refused')
  }
  return subscribed
}
