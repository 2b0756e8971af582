import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { csvList } from '../core/config.js'
import { verifyClickToken } from '../tokens/click-token.js'
import { signingKeys } from '../tokens/state-token.js'

const LinkNotFoundError = createError('MSB_LINK_NOT_FOUND', 'This link is not valid or has expired.', 404)
// Link previews fetch the page a message links to: they get the redirect, and are not a person's click.
const CRAWLERS = /facebookexternalhit|facebot/i

/**
 * `GET /r/{token}`: every link the service sends. The token is signed and names its destination, the conversation
 * and the campaign; it is never an open redirect: a tampered, expired or foreign token, or a destination off the
 * shop's own domains, is a 404 with no redirect. A person's click is counted, then 302 to the destination.
 */
const clicks: FastifyPluginAsyncTypebox = async (fastify) => {
  const keys = signingKeys(csvList(fastify.config.STATE_TOKEN_SECRET))
  // A wildcard, not a parameter: a token is longer than the router's parameter limit (kept short for every other route).
  fastify.get('/r/*', {
    schema: { params: Type.Object({ '*': Type.String({ maxLength: 1500 }) }) },
    onRequest: fastify.clientRateLimit
  }, async (request, reply) => {
    const claims = verifyClickToken(keys, request.params['*'], Math.floor(Date.now() / 1000))
    if (claims === undefined || !URL.canParse(claims.destination)) throw new LinkNotFoundError()
    const workspace = await fastify.store.clicks.workspaceFor(claims.pageId, new URL(claims.destination))
    if (workspace === undefined) throw new LinkNotFoundError()
    if (!CRAWLERS.test(request.headers['user-agent'] ?? '')) {
      const { pageId, psid, campaignId } = claims
      await fastify.store.clicks.record({ workspace, pageId, psid, ...(campaignId === undefined ? {} : { campaignId }) })
    }
    return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(claims.destination, 302)
  })
}

export default clicks
