import { createHash, timingSafeEqual } from 'node:crypto'
import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { isIsoTime } from '../core/iso-time.js'
import { FacebookFailedError } from '../facebook/errors.js'
import { subscribePages, unsubscribePage } from '../facebook/page-subscriptions.js'
import { connectPageUrl } from '../tokens/connect-link.js'
import adminAnalytics from './analytics.js'
import adminBot from './bot.js'
import adminCampaigns from './campaigns.js'
import { InvalidCursorError } from './errors.js'
import adminOutbox from './outbox.js'
import { PageParams, WorkspaceParams } from './params.js'
import adminShops from './shops.js'

const UnauthorizedError = createError('MSB_UNAUTHORIZED', 'A valid bearer token is required.', 401)
const PageNotFoundError = createError('MSB_PAGE_NOT_FOUND', 'This Page is not connected to this workspace.', 404)

// Response schemas serialize only the listed fields: a token added to a row can never reach the wire.
const PageSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  category: Type.String(),
  tasks: Type.Array(Type.String()),
  canMessage: Type.Boolean(),
  status: Type.Union([Type.Literal('connected'), Type.Literal('needs_reconnect')]),
  subscribed: Type.Boolean()
})

const ConversationPage = Type.Object({
  conversations: Type.Array(Type.Object({
    psid: Type.String(),
    firstMessageAt: Type.Union([Type.String(), Type.Null()]),
    lastCustomerMessageAt: Type.Union([Type.String(), Type.Null()]),
    windowOpen: Type.Boolean(),
    withHuman: Type.Boolean(),
    unreachable: Type.Boolean(),
    optedOut: Type.Boolean(),
    messages: Type.Array(Type.Object({ mid: Type.String(), direction: Type.String(), text: Type.String(), at: Type.String() }))
  })),
  nextCursor: Type.Union([Type.String(), Type.Null()])
})

function parseCursor (cursor: string): { at: string | null, psid: string } {
  try {
    const [at, psid] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if ((at === null || isIsoTime(at)) && typeof psid === 'string' && psid.length <= 64) return { at, psid }
  } catch {}
  throw new InvalidCursorError()
}

const digest = (value: string) => createHash('sha256').update(value).digest()
const BEARER = /^bearer +(\S+) *$/i

const admin: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, stateToken } = fastify
  // Comparing digests keeps the comparison constant-time whatever the length of the presented token.
  const expected = digest(config.ADMIN_API_TOKEN)

  fastify.addHook('onRequest', async (request) => {
    // The scheme is case-insensitive (RFC 9110), the token is not.
    const presented = BEARER.exec(request.headers.authorization ?? '')?.[1]
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw new UnauthorizedError()
  })

  fastify.post('/workspaces/:workspace/connect-links', {
    schema: {
      params: WorkspaceParams,
      response: { 201: Type.Object({ url: Type.String(), expiresAt: Type.String() }) }
    }
  }, async (request, reply) => {
    const { workspace } = request.params
    await store.pages.ensureWorkspace(workspace)
    const exp = Math.floor(Date.now() / 1000) + config.CONNECT_LINK_TTL_SECONDS
    const link = stateToken.issue('connect', workspace, { expiresAt: exp })
    request.log.info({ workspace }, 'connect link minted')
    return reply.code(201).send({ url: `${config.PUBLIC_BASE_URL}${connectPageUrl(link)}`, expiresAt: new Date(exp * 1000).toISOString() })
  })

  fastify.get('/workspaces', {
    schema: { response: { 200: Type.Object({ workspaces: Type.Array(Type.Object({ id: Type.String(), pageCount: Type.Integer() })) }) } }
  }, async () => ({ workspaces: await store.pages.listWorkspaces() }))

  fastify.get('/workspaces/:workspace/pages', {
    schema: { params: WorkspaceParams, response: { 200: Type.Object({ pages: Type.Array(PageSummary) }) } }
  }, async (request) => ({ pages: await store.pages.list(request.params.workspace) }))

  fastify.get('/workspaces/:workspace/pages/:pageId/conversations', {
    schema: {
      params: PageParams,
      querystring: Type.Object({
        limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
        cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' }))
      }),
      response: { 200: ConversationPage }
    }
  }, async (request) => {
    const { workspace, pageId } = request.params
    if (!await store.pages.inWorkspace(workspace, pageId)) throw new PageNotFoundError()
    const { limit, cursor } = request.query
    const after = cursor === undefined ? undefined : parseCursor(cursor)
    const conversations = await store.conversations.conversations(pageId, limit, after)
    const last = conversations.at(-1)
    return {
      conversations,
      nextCursor: conversations.length === limit && last !== undefined
        ? Buffer.from(JSON.stringify([last.lastCustomerMessageAt, last.psid])).toString('base64url')
        : null
    }
  })

  fastify.post('/workspaces/:workspace/pages/:pageId/subscribe', {
    schema: { params: PageParams, response: { 200: Type.Object({ id: Type.String(), subscribed: Type.Boolean() }) } }
  }, async (request) => {
    const { workspace, pageId } = request.params
    const token = await store.pages.token(workspace, pageId)
    if (token === undefined) throw new PageNotFoundError()
    const outcome = await subscribePages(fastify.graph, store, request.log, [{ id: pageId, accessToken: token }])
    if (outcome.get(pageId) !== true) throw new FacebookFailedError()
    return { id: pageId, subscribed: true }
  })

  fastify.delete('/workspaces/:workspace/pages/:pageId', { schema: { params: PageParams } }, async (request, reply) => {
    const { workspace, pageId } = request.params
    // A Page whose token was deleted (deauthorized) can still be removed; there is just nothing to unsubscribe with.
    const token = !config.features.messenger ? undefined : await store.pages.token(workspace, pageId)
    if (token !== undefined) await unsubscribePage(fastify.graph, request.log, pageId, token)
    if (!await store.pages.delete(workspace, pageId)) throw new PageNotFoundError()
    request.log.info({ workspace, pageId }, 'page removed')
    return reply.code(204).send()
  })
  if (config.features.shopify) await fastify.register(adminShops)
  if (config.features.messenger) {
    await fastify.register(adminOutbox)
    await fastify.register(adminBot)
    await fastify.register(adminCampaigns)
    await fastify.register(adminAnalytics)
  }
}

export default admin
