import pino from 'pino'
import t from 'tap'
import type { ShopifyClient } from '../../../plugins/shopify/client.js'
import { subscribeWebhooks, WEBHOOK_TOPICS } from '../../../plugins/shopify/webhook-subscriptions.js'
import type { Store } from '../../../plugins/store/index.js'
import { logCapture } from '../../helper.js'

const store = { shops: { accessToken: async () => 'shpat_subscribe' } } as unknown as Store
const created = { data: { webhookSubscriptionCreate: { webhookSubscription: { id: 'gid://shopify/WebhookSubscription/1' }, userErrors: [] } } }
const refused = (message: string) => ({ data: { webhookSubscriptionCreate: { webhookSubscription: null, userErrors: [{ field: ['callbackUrl'], message }] } } })

/** subscribeWebhooks against a Shopify that answers each topic with `answers[topic]` (created when absent). */
async function subscribe (answers: Partial<Record<string, unknown>>) {
  const calls: Array<{ token: string, variables: Record<string, unknown> }> = []
  const shopify = {
    async graphql (_shop: string, token: string, _query: string, variables: Record<string, unknown>) {
      calls.push({ token, variables })
      return answers[variables.topic as string] ?? created
    }
  } as unknown as ShopifyClient
  const { lines, stream } = logCapture()
  const subscribed = await subscribeWebhooks('subs.myshopify.com', { shopify, store, publicBaseUrl: 'https://connect.example.com', log: pino({ level: 'warn' }, stream) })
  return { subscribed, calls, warnings: lines.map(line => JSON.parse(line)) }
}

t.test('every topic is subscribed to the service webhook URL with the shop token', async t => {
  const { subscribed, calls, warnings } = await subscribe({})
  t.same(subscribed, [...WEBHOOK_TOPICS])
  t.same(calls.map(call => call.variables), WEBHOOK_TOPICS.map(topic => ({ topic, callbackUrl: 'https://connect.example.com/shopify/webhooks' })))
  t.ok(calls.every(call => call.token === 'shpat_subscribe'))
  t.same(warnings, [])
})

t.test('"already been taken" (a reinstall) counts as subscribed; any other refusal is logged and left out', async t => {
  const { subscribed, warnings } = await subscribe({
    PRODUCTS_CREATE: refused('Address for this topic has already been taken'),
    PRODUCTS_UPDATE: refused('Address is an invalid URL'),
    APP_UNINSTALLED: { errors: [{ message: 'Access denied for webhookSubscriptionCreate field.' }] }
  })
  t.same(subscribed, ['PRODUCTS_CREATE', 'PRODUCTS_DELETE'])
  t.same(warnings.map(w => [w.topic, w.problems]), [
    ['PRODUCTS_UPDATE', ['Address is an invalid URL']],
    ['APP_UNINSTALLED', ['Access denied for webhookSubscriptionCreate field.']]
  ])
})
