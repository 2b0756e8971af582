import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import type { Campaign, CampaignStatus } from '../store/campaigns.js'
import { GraphId, WorkspaceParams } from './params.js'

const CampaignParams = Type.Object({ ...WorkspaceParams.properties, id: Type.String({ pattern: '^[0-9]{1,18}$' }) })
const NewCampaign = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  text: Type.String({ minLength: 1, maxLength: 640 }),
  productIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 10, uniqueItems: true })),
  pageIds: Type.Optional(Type.Array(GraphId, { minItems: 1, maxItems: 100, uniqueItems: true })),
  audience: Type.Optional(Type.Object({ lastMessageWithinHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 })) })),
  discountCode: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }))
}, { additionalProperties: false })
const Skipped = Type.Object({
  windowClosed: Type.Integer(), optedOut: Type.Integer(), unreachable: Type.Integer(), withHuman: Type.Integer()
})
const Progress = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  total: Type.Integer(),
  queued: Type.Integer(),
  sent: Type.Integer(),
  failed: Type.Integer(),
  skipped: Skipped,
  clicks: Type.Integer(),
  orders: Type.Integer(),
  revenue: Type.Object({ amount: Type.String(), currency: Type.Union([Type.String(), Type.Null()]) }),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()])
})
const StartBody = Type.Union([
  Type.Object({ at: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false }), Type.Null()
])

const NoCampaignError = createError('MSB_CAMPAIGN_NOT_FOUND', 'This campaign does not exist in this workspace.', 404)
const CampaignStateError = createError('MSB_CAMPAIGN_STATE', 'The campaign is %s: it cannot be %s.', 409)
const UnknownProductsError = createError('MSB_CAMPAIGN_PRODUCTS', 'Some products are not in the workspace\'s catalog: %s.', 400)
const UnknownPagesError = createError('MSB_CAMPAIGN_PAGES', 'Some Pages are not connected to this workspace: %s.', 400)
const ScheduleError = createError('MSB_CAMPAIGN_SCHEDULE', 'at must be a time in the future, within a year.', 400)

const ENDED: CampaignStatus[] = ['finished', 'cancelled']
const EVENT_POLL_MS = 400
const HEARTBEAT_MS = 15_000
const YEAR_MS = 365 * 24 * 3_600_000

/**
 * Promotions: create, start (now or at a time), pause, resume, cancel; their progress, also as Server-Sent Events
 * while they run. Recipients, the policy re-check and never-twice are the outbox's (plugins/store/campaigns.ts).
 */
const adminCampaigns: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, campaigns } = fastify
  const streams = new Set<() => void>()
  fastify.addHook('onClose', async () => { for (const end of streams) end() })

  async function found (workspace: string, id: string): Promise<Campaign> {
    const campaign = await store.campaigns.get(workspace, id)
    if (campaign === undefined) throw new NoCampaignError()
    return campaign
  }
  const progressOf = async (workspace: string, id: string) => campaigns.progress(await found(workspace, id))

  fastify.post('/workspaces/:workspace/campaigns', {
    schema: { params: WorkspaceParams, body: NewCampaign, response: { 201: Type.Object({ id: Type.String(), status: Type.String() }) } }
  }, async (request, reply) => {
    const { workspace } = request.params
    const body = request.body
    const productIds = body.productIds ?? []
    if (productIds.length > 0) {
      const shop = await store.shops.nameOf(workspace)
      const known = new Set(shop === undefined ? [] : (await store.catalog.byIds(shop, productIds)).map(product => product.id))
      const unknown = productIds.filter(id => !known.has(id))
      if (unknown.length > 0) throw new UnknownProductsError(unknown.join(', '))
    }
    if (body.pageIds !== undefined) {
      const own = new Set((await store.pages.list(workspace)).map(page => page.id))
      const unknown = body.pageIds.filter(id => !own.has(id))
      if (unknown.length > 0) throw new UnknownPagesError(unknown.join(', '))
    }
    const campaign = await store.campaigns.create(workspace, {
      name: body.name,
      text: body.text,
      productIds,
      pageIds: body.pageIds ?? null,
      audienceHours: body.audience?.lastMessageWithinHours ?? 24,
      discountCode: body.discountCode ?? null
    })
    request.log.info({ workspace, campaignId: campaign.id }, 'campaign created')
    return reply.code(201).send({ id: campaign.id, status: campaign.status })
  })

  fastify.get('/workspaces/:workspace/campaigns', {
    schema: { params: WorkspaceParams, response: { 200: Type.Object({ campaigns: Type.Array(Progress) }) } }
  }, async (request) => {
    const list = await store.campaigns.list(request.params.workspace)
    return { campaigns: await Promise.all(list.map(campaign => campaigns.progress(campaign))) }
  })

  fastify.get('/workspaces/:workspace/campaigns/:id', { schema: { params: CampaignParams, response: { 200: Progress } } },
    async (request) => progressOf(request.params.workspace, request.params.id))

  fastify.post('/workspaces/:workspace/campaigns/:id/start', {
    schema: { params: CampaignParams, body: Type.Optional(StartBody), response: { 200: Progress } }
  }, async (request) => {
    const { workspace, id } = request.params
    const campaign = await found(workspace, id)
    const at = request.body?.at === undefined ? undefined : new Date(request.body.at)
    if (at !== undefined && at.getTime() > Date.now()) {
      if (at.getTime() > Date.now() + YEAR_MS) throw new ScheduleError()
      if (!await store.campaigns.move(workspace, id, ['draft', 'scheduled'], 'scheduled', at)) {
        throw new CampaignStateError(campaign.status, 'scheduled')
      }
    } else if (await campaigns.start(workspace, id) === undefined) {
      throw new CampaignStateError((await found(workspace, id)).status, 'started')
    }
    return progressOf(workspace, id)
  })

  const moves: Array<[string, CampaignStatus[], CampaignStatus, string]> = [
    ['pause', ['running'], 'paused', 'paused'],
    ['resume', ['paused'], 'running', 'resumed']
  ]
  for (const [action, from, to, done] of moves) {
    fastify.post(`/workspaces/:workspace/campaigns/:id/${action}`, { schema: { params: CampaignParams, response: { 200: Progress } } },
      async (request) => {
        const { workspace, id } = request.params
        const campaign = await found(workspace, id)
        if (!await store.campaigns.move(workspace, id, from, to)) throw new CampaignStateError(campaign.status, done)
        if (to === 'running') fastify.outbox.wake()
        return progressOf(workspace, id)
      })
  }

  fastify.post('/workspaces/:workspace/campaigns/:id/cancel', { schema: { params: CampaignParams, response: { 200: Progress } } },
    async (request) => {
      const { workspace, id } = request.params
      const campaign = await found(workspace, id)
      if (!await store.campaigns.cancel(workspace, id)) throw new CampaignStateError(campaign.status, 'cancelled')
      return progressOf(workspace, id)
    })

  // The progress as Server-Sent Events: the object again whenever it changes, until the campaign has ended.
  fastify.get('/workspaces/:workspace/campaigns/:id/events', { schema: { params: CampaignParams } }, async (request, reply) => {
    const { workspace, id } = request.params
    let last = JSON.stringify(await progressOf(workspace, id))
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff'
    })
    raw.write(`event: progress\ndata: ${last}\n\n`)
    let ended = false
    let lastWrite = Date.now()
    const end = () => {
      if (ended) return
      ended = true
      clearInterval(timer)
      streams.delete(end)
      raw.end()
    }
    const timer = setInterval(() => {
      progressOf(workspace, id).then(progress => {
        if (ended) return
        const next = JSON.stringify(progress)
        if (next !== last) {
          last = next
          lastWrite = Date.now()
          raw.write(`event: progress\ndata: ${next}\n\n`)
        } else if (Date.now() - lastWrite > HEARTBEAT_MS) {
          lastWrite = Date.now()
          raw.write(': still running\n\n')
        }
        if (ENDED.includes(progress.status as CampaignStatus)) end()
      }, err => { request.log.warn({ err }, 'campaign progress not read'); end() })
    }, EVENT_POLL_MS)
    streams.add(end)
    raw.on('close', end)
    if (ENDED.includes((JSON.parse(last) as { status: CampaignStatus }).status)) end()
  })
}

export default adminCampaigns
