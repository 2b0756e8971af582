import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { jsonBody, keepRawJsonBodies } from '../inbox/webhook-delivery.js'
import { startInboxWorker } from '../inbox/worker.js'
import { isConversationEvent, messengerEvents, splitDelivery } from './events.js'

const WrongVerifyTokenError = createError('MSB_WEBHOOK_VERIFY_TOKEN', 'The verify token does not match.', 403)
const BadChallengeError = createError('MSB_WEBHOOK_CHALLENGE', 'hub.challenge must be 1-64 digits.', 400)
const BadSignatureError = createError('MSB_WEBHOOK_SIGNATURE', 'A valid X-Hub-Signature-256 is required.', 401)
const NotJsonError = createError('MSB_WEBHOOK_NOT_JSON', 'The body is not JSON.', 400)

const VerifyQuery = Type.Object({
  'hub.mode': Type.Optional(Type.String({ maxLength: 32 })),
  'hub.verify_token': Type.Optional(Type.String({ maxLength: 256 })),
  'hub.challenge': Type.Optional(Type.String({ maxLength: 256 }))
})

const WEBHOOK_BODY_LIMIT = 1024 * 1024
const SIGNATURE = /^sha256=([0-9a-f]{64})$/

const digest = (value: string) => createHash('sha256').update(value).digest()

/** `sha256=<hex>` over the exact bytes Meta sent, compared in constant time. */
export function signatureMatches (appSecret: string, rawBody: Buffer, header: unknown): boolean {
  const match = typeof header === 'string' ? SIGNATURE.exec(header) : null
  if (match === null) return false
  const expected = createHmac('sha256', appSecret).update(rawBody).digest()
  return timingSafeEqual(Buffer.from(match[1]!, 'hex'), expected)
}

/** The Messenger webhook: Meta's subscription handshake and signed deliveries into the durable inbox. */
const messenger: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  const verifyToken = digest(config.MESSENGER_VERIFY_TOKEN)
  const worker = startInboxWorker({
    inbox: store.inbox,
    source: 'messenger',
    log: fastify.log,
    split: splitDelivery,
    apply: async items => {
      const parsed = items.map(item => ({ id: item.id, events: messengerEvents(JSON.parse(item.body)) }))
      const fresh = await store.conversations.apply(parsed.map(({ id, events }) => ({ id, events: events.filter(isConversationEvent) })))
      for (const event of fresh) fastify.messenger.emit('message', event)
      for (const event of parsed.flatMap(({ events }) => events)) if (event.kind === 'handover') fastify.messenger.emit('handover', event)
    }
  })
  fastify.addHook('onClose', async () => { await worker.stop() })

  keepRawJsonBodies(fastify, WEBHOOK_BODY_LIMIT)

  fastify.get('/webhook', { schema: { querystring: VerifyQuery } }, async (request, reply) => {
    const query = request.query
    const token = query['hub.verify_token']
    const tokenMatches = token !== undefined && timingSafeEqual(digest(token), verifyToken)
    if (query['hub.mode'] !== 'subscribe' || !tokenMatches) throw new WrongVerifyTokenError()
    const challenge = query['hub.challenge']
    if (challenge === undefined || !/^[0-9]{1,64}$/.test(challenge)) throw new BadChallengeError()
    return reply.type('text/plain; charset=utf-8').send(challenge)
  })

  fastify.post('/webhook', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
    const raw = request.body
    if (!Buffer.isBuffer(raw) || !signatureMatches(config.FACEBOOK_APP_SECRET, raw, request.headers['x-hub-signature-256'])) {
      throw new BadSignatureError()
    }
    const id = await worker.store(jsonBody(raw, NotJsonError).text)
    request.log.info({ inboxId: id }, 'messenger delivery stored')
    return reply.type('text/plain; charset=utf-8').send('EVENT_RECEIVED')
  })
}

export default messenger
