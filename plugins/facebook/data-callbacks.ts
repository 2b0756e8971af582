import { createHmac } from 'node:crypto'
import createError from '@fastify/error'
import formbody from '@fastify/formbody'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { escapeHtml, renderPage, wantsHtml } from '../core/html.js'
import { parseSignedRequest, SignedRequestError } from './signed-request.js'

const MalformedSignedRequestError = createError('MSB_SIGNED_REQUEST_MALFORMED', 'signed_request is missing or malformed.', 400)
const ForgedSignedRequestError = createError('MSB_SIGNED_REQUEST_REFUSED', 'signed_request does not verify.', 403)
const UnknownDeletionError = createError('MSB_DELETION_NOT_FOUND', 'No data deletion request has this confirmation code.', 404)

const SignedRequestBody = Type.Object({ signed_request: Type.Optional(Type.String({ maxLength: 4100 })) })

/** Meta's user-data callbacks: deauthorize and data deletion, both signed with the app secret. */
const facebookData: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  // Scoped here: these two form posts are the only form bodies the service accepts.
  await fastify.register(formbody, { bodyLimit: 8192 })

  async function deleteFor (signedRequest: string | undefined, log: typeof fastify.log) {
    let userId: string
    try {
      userId = parseSignedRequest(config.FACEBOOK_APP_SECRET, signedRequest, Math.floor(Date.now() / 1000)).userId
    } catch (err) {
      if (!(err instanceof SignedRequestError)) throw err
      throw err.reason === 'malformed' ? new MalformedSignedRequestError() : new ForgedSignedRequestError()
    }
    const deletedPages = await store.pages.deleteUserData(userId)
    log.info({ deletedPages }, 'facebook user data deleted')
  }

  fastify.post('/deauthorize', { schema: { body: SignedRequestBody } }, async (request) => {
    await deleteFor(request.body.signed_request, request.log)
    return { status: 'ok' }
  })

  fastify.post('/data-deletion', { schema: { body: SignedRequestBody } }, async (request) => {
    await deleteFor(request.body.signed_request, request.log)
    // The same request gets the same code: Meta may call again, and a replay must not mint new ones.
    const code = createHmac('sha256', config.FACEBOOK_APP_SECRET).update(`data-deletion:${request.body.signed_request}`)
      .digest('hex').slice(0, 24)
    await store.pages.recordDataDeletion(code)
    return { url: `${config.PUBLIC_BASE_URL}/facebook/data-deletion/${code}`, confirmation_code: code }
  })

  const DeletionParams = Type.Object({ code: Type.String({ pattern: '^[0-9a-f]{24}$' }) })
  // A page anyone may open, and each view reads the store: rate-limited like the other browser routes.
  const statusOptions = { schema: { params: DeletionParams }, onRequest: fastify.clientRateLimit }
  fastify.get('/data-deletion/:code', statusOptions, async (request, reply) => {
    const deletion = await store.pages.dataDeletion(request.params.code)
    if (deletion === undefined) throw new UnknownDeletionError()
    if (!wantsHtml(request.headers.accept)) return { confirmationCode: request.params.code, ...deletion }
    return reply.type('text/html; charset=utf-8').send(renderPage('Data deletion',
      `<p>Request <code>${escapeHtml(request.params.code)}</code>: ${escapeHtml(deletion.status)}.</p>` +
      '<p>Your Facebook connection, the Pages only you connected and their conversations have been deleted.</p>'))
  })
}

export default facebookData
