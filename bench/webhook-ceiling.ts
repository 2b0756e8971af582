import Fastify from 'fastify'
import { signatureMatches } from '../plugins/messenger/webhook.js'

/** The webhook's ceiling: a bare Fastify app that checks the signature over the raw body and stores nothing. */
const appSecret = process.env.APP_SECRET!
const app = Fastify()
app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) => done(null, body))
app.get('/healthz', async () => ({ status: 'ok' }))
app.post('/messenger/webhook', async (request, reply) => {
  if (!signatureMatches(appSecret, request.body as Buffer, request.headers['x-hub-signature-256'])) return reply.code(401).send()
  return reply.type('text/plain; charset=utf-8').send('EVENT_RECEIVED')
})
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0)) })
