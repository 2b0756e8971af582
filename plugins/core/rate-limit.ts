import rateLimit from '@fastify/rate-limit'
import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hooks for the public browser routes: one bucket per client IP, shared by all of them. */
    clientRateLimit: onRequestHookHandler[]
  }
}

export default fp(async (fastify) => {
  const { RATE_LIMIT_MAX: max, RATE_LIMIT_WINDOW_MS: timeWindow } = fastify.config
  if (max === 0) {
    fastify.decorate('clientRateLimit', [])
    return
  }
  await fastify.register(rateLimit, { global: false, max, timeWindow })
  // fastify.rateLimit() counts in the plugin's root store, so every route using it shares the bucket.
  fastify.decorate('clientRateLimit', [fastify.rateLimit()])
}, { name: 'client-rate-limit', dependencies: ['config'], fastify: '5.x' })
