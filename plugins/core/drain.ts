import fp from 'fastify-plugin'

/**
 * During shutdown, answers in flight close their connection behind them: a keep-alive socket (an nginx
 * upstream, a browser) would otherwise hold the server open after its last request.
 */
export default fp(async (fastify) => {
  // New requests once closing has begun (/readyz included) get Fastify's own 503.
  let draining = false
  fastify.addHook('preClose', async () => { draining = true })
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'drain', fastify: '5.x' })
