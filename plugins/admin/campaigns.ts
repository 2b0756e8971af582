import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { progressEvents } from '../campaigns/events.js'
import { streamEvents } from '../core/event-stream.js'
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

const EVENT_POLL_MS = 400

/**
 * Promotions: create, start (now or at a time), pause, resume, cancel; their progress, also as Server-Sent Events
 * while they run. Recipients, the policy re-check and never-twice are the outbox's (plugins/store/campaigns.ts).
 */
const adminCampaigns: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, campaigns } = fastify
  const streams = new Set<() => void>()
  fastify.addHook('onClose', async () => { for (const end of streams) end() })

  const progressOf = async (workspace: string, id: string) => campaigns.progress(await campaigns.found(workspace, id))

  fastify.post('/workspaces/:workspace/campaigns', {
    schema: { params: WorkspaceParams, body: NewCampaign, response: { 201: Type.Object({ id: Type.String(), status: Type.String() }) } }
  }, async (request, reply) => {
    const { workspace } = request.params
    const body = request.body
    const campaign = await campaigns.create(workspace, {
      name: body.name,
      text: body.text,
      productIds: body.productIds ?? [],
      pageIds: body.pageIds ?? null,
      audienceHours: body.audience?.lastMessageWithinHours ?? 24,
      discountCode: body.discountCode ?? null
    })
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
    const at = request.body?.at === undefined ? undefined : new Date(request.body.at)
    return campaigns.act(request.params.workspace, request.params.id, 'start', at)
  })

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    fastify.post(`/workspaces/:workspace/campaigns/:id/${action}`, { schema: { params: CampaignParams, response: { 200: Progress } } },
      async (request) => campaigns.act(request.params.workspace, request.params.id, action))
  }

  // The progress as Server-Sent Events: the object again whenever it changes, until the campaign has ended.
  fastify.get('/workspaces/:workspace/campaigns/:id/events', { schema: { params: CampaignParams } }, async (request, reply) => {
    const { workspace, id } = request.params
    streamEvents(reply, {
      event: 'progress',
      open: streams,
      pollMs: EVENT_POLL_MS,
      ...await progressEvents(campaigns, workspace, id),
      onError: err => request.log.warn({ err }, 'campaign progress not read')
    })
  })
}

export default adminCampaigns
