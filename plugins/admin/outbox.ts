import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { deliveryFor } from '../outbox/policy.js'
import { InvalidCursorError, NoConversationError } from './errors.js'
import { ConversationParams, WorkspaceParams } from './params.js'

const WindowClosedError = createError('MSB_WINDOW_CLOSED',
  "The customer's last message is too old to reply to: Messenger allows replies for 24 hours (7 days for a person, " +
  'with the human agent permission).', 409)
const UnreachableError = createError('MSB_UNREACHABLE', 'Messenger says this person cannot be reached any more.', 409)

const STATUSES = ['queued', 'sending', 'sent', 'failed', 'skipped', 'unknown'] as const

const OutboxPage = Type.Object({
  items: Type.Array(Type.Object({
    id: Type.String(),
    pageId: Type.String(),
    psid: Type.String(),
    source: Type.String(),
    status: Type.String(),
    error: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    sentAt: Type.Union([Type.String(), Type.Null()]),
    messageId: Type.Union([Type.String(), Type.Null()])
  })),
  nextCursor: Type.Union([Type.String(), Type.Null()])
})

/** The outbox through the admin API: what was sent, and a person's reply (Messenger on). */
const adminOutbox: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify

  fastify.get('/workspaces/:workspace/outbox', {
    schema: {
      params: WorkspaceParams,
      querystring: Type.Object({
        status: Type.Optional(Type.Union(STATUSES.map(status => Type.Literal(status)))),
        limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
        cursor: Type.Optional(Type.String({ maxLength: 40 }))
      }),
      response: { 200: OutboxPage }
    }
  }, async (request) => {
    const { status, limit, cursor } = request.query
    const before = cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString('utf8')
    if (before !== undefined && !/^[1-9][0-9]{0,18}$/.test(before)) throw new InvalidCursorError()
    const items = await store.outbox.list(request.params.workspace,
      { limit, ...(status === undefined ? {} : { status }), ...(before === undefined ? {} : { before }) })
    const last = items.at(-1)
    return { items, nextCursor: items.length === limit && last !== undefined ? Buffer.from(last.id).toString('base64url') : null }
  })

  fastify.post('/workspaces/:workspace/pages/:pageId/conversations/:psid/messages', {
    schema: {
      params: ConversationParams,
      body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 2000 }) }),
      response: { 202: Type.Object({ id: Type.String(), status: Type.String() }) }
    }
  }, async (request, reply) => {
    const { workspace, pageId, psid } = request.params
    const conversation = await store.pages.inWorkspace(workspace, pageId) ? await store.outbox.conversation(pageId, psid) : undefined
    if (conversation === undefined) throw new NoConversationError()
    if (conversation.unreachable) throw new UnreachableError()
    // Checked here so a person learns it at once; the sender decides again right before the call.
    const decided = deliveryFor('human', conversation.lastCustomerMessageAt, Date.now(), config.MESSENGER_HUMAN_AGENT)
    if ('skip' in decided) throw new WindowClosedError()
    const queued = await fastify.outbox.enqueue({
      dedupeKey: `human:${request.id}`, pageId, psid, source: 'human', message: { text: request.body.text }
    })
    request.log.info({ outboxId: queued.id, pageId }, "a person's reply queued")
    return reply.code(202).send({ id: queued.id, status: queued.status })
  })
}

export default adminOutbox
