import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { queuePersonReply } from '../outbox/person-reply.js'
import { InvalidCursorError } from './errors.js'
import { ConversationParams, WorkspaceParams } from './params.js'

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
    const queued = await queuePersonReply({ store, outbox: fastify.outbox, humanAgent: config.MESSENGER_HUMAN_AGENT },
      { workspace, pageId, psid, text: request.body.text, requestId: request.id })
    request.log.info({ outboxId: queued.id, pageId }, "a person's reply queued")
    return reply.code(202).send({ id: queued.id, status: queued.status })
  })
}

export default adminOutbox
