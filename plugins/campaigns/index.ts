import fp from 'fastify-plugin'
import { carousel, discountedCartLink } from '../bot/reply.js'
import { startPollLoop } from '../core/poll-loop.js'
import type { Campaign, CampaignCounts } from '../store/campaigns.js'

/** A campaign as the admin API and its event stream show it. */
export interface CampaignProgress extends CampaignCounts {
  id: string
  name: string
  status: Campaign['status']
  /** people's clicks on the campaign's links (link previews not counted) */
  clicks: number
  /** orders whose cart came from the campaign's links, and what they brought */
  orders: number
  revenue: { amount: string, currency: string | null }
  startedAt: string | null
  finishedAt: string | null
}

export interface Campaigns {
  /** Starts a draft or scheduled campaign now; undefined when it was not startable. */
  start (workspace: string, id: string): Promise<number | undefined>
  progress (campaign: Campaign): Promise<CampaignProgress>
}

declare module 'fastify' {
  interface FastifyInstance {
    campaigns: Campaigns
  }
}

const TICK_MS = 1000

/**
 * Promotions through the outbox (Messenger on): a campaign's messages are built once when it starts (the text, then
 * the carousel of its products with "Buy now" applying its discount code), and every replica's ticker starts the
 * scheduled ones that are due and finishes the running ones with nothing left to send.
 */
export default fp(async (fastify) => {
  const { store, log } = fastify

  async function messagesOf (workspace: string, campaign: Campaign): Promise<Array<Record<string, unknown>>> {
    const messages: Array<Record<string, unknown>> = [{ text: campaign.text }]
    const shop = await store.shops.nameOf(workspace)
    const products = shop === undefined ? [] : await store.catalog.byIds(shop, campaign.productIds)
    if (shop !== undefined && products.length > 0) {
      messages.push(campaign.discountCode === null
        ? carousel(shop, products, {})
        : carousel(shop, products, {}, discountedCartLink(campaign.discountCode)))
    }
    return messages
  }

  async function start (workspace: string, id: string): Promise<number | undefined> {
    const campaign = await store.campaigns.get(workspace, id)
    if (campaign === undefined) return undefined
    const total = await store.campaigns.start(workspace, id, await messagesOf(workspace, campaign))
    if (total !== undefined) {
      log.info({ workspace, campaignId: id, recipients: total }, 'campaign started')
      fastify.outbox.wake()
    }
    return total
  }

  const ticker = startPollLoop({
    idleMs: TICK_MS,
    onError: err => log.warn({ err }, 'campaign tick failed'),
    pass: async () => {
      for (const due of await store.campaigns.due()) await start(due.workspace, due.id)
      for (const id of await store.campaigns.finishDone()) log.info({ campaignId: id }, 'campaign finished')
      return false
    }
  })
  fastify.addHook('onClose', () => ticker.stop())

  fastify.decorate('campaigns', {
    start,
    async progress (campaign) {
      const [counts, clicks, { orders, revenue }] = await Promise.all([
        store.campaigns.counts(campaign.id), store.clicks.ofCampaign(campaign.id), store.orders.ofCampaign(campaign.id)
      ])
      const { id, name, status, startedAt, finishedAt } = campaign
      return { id, name, status, ...counts, total: Math.max(counts.total, campaign.total), clicks, orders, revenue, startedAt, finishedAt }
    }
  } satisfies Campaigns)
}, { name: 'campaigns', dependencies: ['store', 'outbox'], fastify: '5.x' })
