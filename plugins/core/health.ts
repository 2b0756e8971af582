import type { FastifyPluginAsync } from 'fastify'

// However often /readyz is asked (every replica's probes, or a flood), the store is asked at most once per interval.
const READINESS_REUSED_MS = 1000

const health: FastifyPluginAsync = async (fastify) => {
  fastify.get('/', async () => ({ status: 'ok', message: 'Messenger sales bot integrations. Ask your operator for a connect link.' }))

  fastify.get('/healthz', async () => ({ status: 'ok' }))

  let last: { at: number, ready: Promise<boolean> } | undefined
  const readiness = () => {
    const now = Date.now()
    if (last === undefined || now - last.at >= READINESS_REUSED_MS) {
      const ready = fastify.store.ping().then(() => true, err => {
        fastify.log.warn({ err }, 'store did not answer the readiness check')
        return false
      })
      last = { at: now, ready }
    }
    return last.ready
  }

  fastify.get('/readyz', async (_request, reply) => {
    if (await readiness()) return { status: 'ready' }
    return reply.code(503).send({ status: 'unavailable' })
  })
}

export default health
