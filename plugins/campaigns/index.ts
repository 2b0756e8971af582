import createError from '@fastify/error'
import fp from 'fastify-plugin'
import { carousel, discountedCartLink } from '../bot/reply.js'
import { startPollLoop } from '../core/poll-loop.js'
import type { Campaign, CampaignCounts, CampaignInput, CampaignStatus } from '../store/campaigns.js'

export const NoCampaignError = createError('MSB_CAMPAIGN_NOT_FOUND', 'This campaign does not exist in this workspace.', 404)
const CampaignStateError = createError('MSB_CAMPAIGN_STATE', 'The campaign is %s: it cannot be %s.', 409)
const UnknownProductsError = createError('MSB_CAMPAIGN_PRODUCTS', 'Some products are not in the workspace\'s catalog: %s.', 400)
const UnknownPagesError = createError('MSB_CAMPAIGN_PAGES', 'Some Pages are not connected to this workspace: %s.', 400)
const ScheduleError = createError('MSB_CAMPAIGN_SCHEDULE', 'at must be a time in the future, within a year.', 400)

const YEAR_MS = 365 * 24 * 3_600_000
export const CAMPAIGN_ACTIONS = ['start', 'pause', 'resume', 'cancel'] as const
export type CampaignAction = typeof CAMPAIGN_ACTIONS[number]
// The moves an owner makes by hand (start and cancel have their own rules), and the word for each.
const MOVES: Record<'pause' | 'resume', [CampaignStatus[], CampaignStatus, string]> = {
  pause: [['running'], 'paused', 'paused'],
  resume: [['paused'], 'running', 'resumed']
}

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
  /** A draft, its products and Pages checked against the workspace (400 naming the unknown ones). */
  create (workspace: string, input: CampaignInput): Promise<Campaign>
  /** The campaign of this workspace, or a 404. */
  found (workspace: string, id: string): Promise<Campaign>
  /** An owner's action (start now or at `at`, pause, resume, cancel); 404 or 409 when it does not apply. */
  act (workspace: string, id: string, action: CampaignAction, at?: Date): Promise<CampaignProgress>
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

  async function found (workspace: string, id: string): Promise<Campaign> {
    const campaign = await store.campaigns.get(workspace, id)
    if (campaign === undefined) throw new NoCampaignError()
    return campaign
  }

  async function create (workspace: string, input: CampaignInput): Promise<Campaign> {
    if (input.productIds.length > 0) {
      const shop = await store.shops.nameOf(workspace)
      const known = new Set(shop === undefined ? [] : (await store.catalog.byIds(shop, input.productIds)).map(product => product.id))
      const unknown = input.productIds.filter(id => !known.has(id))
      if (unknown.length > 0) throw new UnknownProductsError(unknown.join(', '))
    }
    if (input.pageIds !== null) {
      const own = new Set((await store.pages.list(workspace)).map(page => page.id))
      const unknown = input.pageIds.filter(id => !own.has(id))
      if (unknown.length > 0) throw new UnknownPagesError(unknown.join(', '))
    }
    const campaign = await store.campaigns.create(workspace, input)
    log.info({ workspace, campaignId: campaign.id }, 'campaign created')
    return campaign
  }

  async function act (workspace: string, id: string, action: CampaignAction, at?: Date): Promise<CampaignProgress> {
    const campaign = await found(workspace, id)
    if (action === 'start' && at !== undefined && at.getTime() > Date.now()) {
      if (at.getTime() > Date.now() + YEAR_MS) throw new ScheduleError()
      if (!await store.campaigns.move(workspace, id, ['draft', 'scheduled'], 'scheduled', at)) {
        throw new CampaignStateError(campaign.status, 'scheduled')
      }
    } else if (action === 'start') {
      if (await start(workspace, id) === undefined) throw new CampaignStateError((await found(workspace, id)).status, 'started')
    } else if (action === 'cancel') {
      if (!await store.campaigns.cancel(workspace, id)) throw new CampaignStateError(campaign.status, 'cancelled')
    } else {
      const [from, to, done] = MOVES[action]
      if (!await store.campaigns.move(workspace, id, from, to)) throw new CampaignStateError(campaign.status, done)
      if (to === 'running') fastify.outbox.wake()
    }
    return progress(await found(workspace, id))
  }

  async function progress (campaign: Campaign): Promise<CampaignProgress> {
    const [counts, clicks, { orders, revenue }] = await Promise.all([
      store.campaigns.counts(campaign.id), store.clicks.ofCampaign(campaign.id), store.orders.ofCampaign(campaign.id)
    ])
    const { id, name, status, startedAt, finishedAt } = campaign
    return { id, name, status, ...counts, total: Math.max(counts.total, campaign.total), clicks, orders, revenue, startedAt, finishedAt }
  }

  fastify.decorate('campaigns', {
    create,
    found,
    act,
    start,
    progress
  } satisfies Campaigns)
}, { name: 'campaigns', dependencies: ['store', 'outbox'], fastify: '5.x' })
