import { createHash, timingSafeEqual } from 'node:crypto'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { connectPageUrl } from '../connect-link.js'
import { PageNotFoundError, UnauthorizedError } from '../errors.js'
import { WORKSPACE_PATTERN } from '../state-token.js'

const WorkspaceParams = Type.Object({ workspace: Type.String({ pattern: WORKSPACE_PATTERN }) })
const PageParams = Type.Object({
  workspace: Type.String({ pattern: WORKSPACE_PATTERN }),
  pageId: Type.String({ pattern: '^[0-9]{1,32}$' })
})
// Response schemas serialize only the listed fields: a token added to a row can never reach the wire.
const PageSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  category: Type.String(),
  tasks: Type.Array(Type.String()),
  canMessage: Type.Boolean(),
  status: Type.Union([Type.Literal('connected'), Type.Literal('needs_reconnect')])
})

const digest = (value: string) => createHash('sha256').update(value).digest()

const admin: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, stateToken } = fastify
  // Comparing digests keeps the comparison constant-time whatever the length of the presented token.
  const expected = digest(`Bearer ${config.ADMIN_API_TOKEN}`)

  fastify.addHook('onRequest', async (request) => {
    const presented = request.headers.authorization
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw new UnauthorizedError()
  })

  fastify.post('/workspaces/:workspace/connect-links', {
    schema: {
      params: WorkspaceParams,
      response: { 201: Type.Object({ url: Type.String(), expiresAt: Type.String() }) }
    }
  }, async (request, reply) => {
    const { workspace } = request.params
    await store.ensureWorkspace(workspace)
    const exp = Math.floor(Date.now() / 1000) + config.CONNECT_LINK_TTL_SECONDS
    const link = stateToken.issue('connect', workspace, { expiresAt: exp })
    request.log.info({ workspace }, 'connect link minted')
    return reply.code(201).send({ url: `${config.PUBLIC_BASE_URL}${connectPageUrl(link)}`, expiresAt: new Date(exp * 1000).toISOString() })
  })

  fastify.get('/workspaces', {
    schema: { response: { 200: Type.Object({ workspaces: Type.Array(Type.Object({ id: Type.String(), pageCount: Type.Integer() })) }) } }
  }, async () => ({ workspaces: await store.listWorkspaces() }))

  fastify.get('/workspaces/:workspace/pages', {
    schema: { params: WorkspaceParams, response: { 200: Type.Object({ pages: Type.Array(PageSummary) }) } }
  }, async (request) => ({ pages: await store.listPages(request.params.workspace) }))

  fastify.delete('/workspaces/:workspace/pages/:pageId', { schema: { params: PageParams } }, async (request, reply) => {
    const { workspace, pageId } = request.params
    if (!await store.deletePage(workspace, pageId)) throw new PageNotFoundError()
    request.log.info({ workspace, pageId }, 'page removed')
    return reply.code(204).send()
  })
}

export default admin
