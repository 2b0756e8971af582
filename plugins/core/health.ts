import type { FastifyPluginAsync } from 'fastify'

const health: FastifyPluginAsync = async (fastify) => {
  fastify.get('/', async () => ({ status: 'ok', message: 'Messenger sales bot integrations. Ask your operator for a connect link.' }))

  fastify.get('/healthz', async () => ({ status: 'ok' }))

  fastify.get('/readyz', async (request, reply) => {
    try {
      await fastify.store.ping()
      return { status: 'ready' }
    } catch (err) {
      request.log.warn({ err }, 'store did not answer the readiness check')
      return reply.code(503).send({ status: 'unavailable' })
    }
  })
}

export default health
