import fp from 'fastify-plugin'
import { csvList } from '../core/config.js'
import { createSendApi } from '../facebook/send-api.js'
import type { ClaimedMessage, OutboxInput, OutboxStatus } from '../store/outbox.js'
import { issueClickToken, issueOrderRef } from '../tokens/click-token.js'
import { signingKeys } from '../tokens/state-token.js'
import { withOrderRef, withTrackedLinks } from './links.js'
import { startSender } from './sender.js'
import { describeSent } from './sent-text.js'

export interface Outbox {
  /** Stores a message to send (once per dedupe key) and wakes the sender. */
  enqueue (input: OutboxInput): Promise<{ id: string, status: OutboxStatus, created: boolean }>
  /**
   * `mark_seen` then `typing_on` to the customer, best effort and briefly: a failure or a slow answer never holds a
   * reply back. Not stored: a sender action lost in a crash costs nothing, and one shown twice is harmless.
   */
  acknowledge (pageId: string, psid: string): Promise<void>
  /** Rows were queued by other means (a campaign started): send them now rather than at the next idle tick. */
  wake (): void
}

const ACKNOWLEDGE_WITHIN_MS = 1000

declare module 'fastify' {
  interface FastifyInstance {
    outbox: Outbox
  }
}

/** The outbox and its sender (Messenger on): every message the service sends goes through here. */
export default fp(async (fastify) => {
  const { config, store, graph } = fastify
  const send = createSendApi(graph, pageId => store.pages.tokenOf(pageId))
  const clickKeys = signingKeys(csvList(config.STATE_TOKEN_SECRET))
  const attributeOrders = config.features.shopify && csvList(config.SHOPIFY_SCOPES).includes('read_orders')
  const sender = startSender({
    outbox: store.outbox,
    send,
    passThreadControl: send.passThreadControl,
    recordSent: recordSentMessage,
    markNeedsReconnect: pageId => store.pages.markNeedsReconnect(pageId),
    log: fastify.log,
    ratePerPage: config.SEND_RATE_PER_PAGE,
    humanAgent: config.MESSENGER_HUMAN_AGENT,
    personalize: row => {
      const conversation = { pageId: row.pageId, psid: row.psid, ...(row.campaignId === null ? {} : { campaignId: row.campaignId }) }
      // With order webhooks, a cart link carries who it was for, so the order it leads to is attributed.
      const ref = attributeOrders ? issueOrderRef(clickKeys, conversation) : undefined
      return withTrackedLinks(row.message, link => {
        const destination = ref === undefined ? link : withOrderRef(link, ref)
        return `${config.PUBLIC_BASE_URL}/r/${issueClickToken(clickKeys, { destination, ...conversation }, Math.floor(Date.now() / 1000))}`
      })
    }
  })
  function recordSentMessage (sent: Array<{ row: ClaimedMessage, messageId: string, at: Date }>) {
    return store.conversations.recordSent(sent.map(({ row, messageId, at }) => ({
      kind: 'message' as const,
      pageId: row.pageId,
      psid: row.psid,
      mid: messageId,
      direction: 'out' as const,
      text: describeSent(row.message),
      at,
      fromCustomer: false
    })))
  }
  fastify.decorate('outbox', {
    wake: () => sender.wake(),
    async acknowledge (pageId, psid) {
      const signal = AbortSignal.timeout(ACKNOWLEDGE_WITHIN_MS)
      try {
        if (await send.senderAction(pageId, psid, 'mark_seen', signal)) await send.senderAction(pageId, psid, 'typing_on', signal)
      } catch (err) {
        fastify.log.debug({ err, pageId }, 'sender action not sent')
      }
    },
    async enqueue (input) {
      const queued = await store.outbox.enqueue(input)
      sender.wake()
      return queued
    }
  } satisfies Outbox)
  fastify.addHook('onClose', async () => { await sender.stop() })
}, { name: 'outbox', dependencies: ['config', 'store', 'graph'], fastify: '5.x' })
