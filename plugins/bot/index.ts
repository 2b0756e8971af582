import fp from 'fastify-plugin'
import { createChatClient } from '../llm/client.js'
import { STANDARD_WINDOW_MS } from '../outbox/policy.js'
import type { MessageEvent } from '../store/conversations.js'
import { answer, type Catalog } from './answer.js'
import { modelAnswer, type ModelDeps } from './model-answer.js'

/**
 * The bot answers customers: each new customer message (never an echo, a read or an opt-in) on a Page that can
 * message, in a workspace whose bot is on, in a conversation no person has. Its replies go through the outbox keyed
 * by the message they answer, so a message processed again is not answered twice.
 */
export default fp(async (fastify) => {
  const { store, outbox, log, config } = fastify
  const disclosure = config.BOT_DISCLOSURE
  // With an LLM configured, a model writes the answers to free text; every fact still comes from the catalog.
  const model: ModelDeps | undefined = config.features.llm
    ? {
        chat: createChatClient({ baseUrl: config.LLM_BASE_URL, apiKey: config.LLM_API_KEY, model: config.LLM_MODEL }),
        store,
        log,
        timeoutMs: config.LLM_TIMEOUT_MS,
        maxRounds: config.LLM_MAX_TOOL_ROUNDS
      }
    : undefined
  if (model !== undefined) fastify.addHook('onClose', () => model.chat.close())

  async function reply (message: MessageEvent) {
    // Older than the window, no reply is allowed at all (sender actions included).
    if (Date.now() - message.at.getTime() >= STANDARD_WINDOW_MS) return
    const context = await store.bot.context(message.pageId, message.psid)
    if (context === undefined || !context.canMessage || !context.settings.enabled || context.withHuman) return
    // Processed again (a crash, a redelivery): it was answered, and a model is not asked twice.
    if (await store.outbox.queued(`reply:${message.mid}:0`)) return
    // Seen and typing go out while the answer is worked out (a model may take seconds); the answer waits for them, so
    // they still arrive first.
    const acknowledged = outbox.acknowledge(message.pageId, message.psid)
    const shop = context.shop
    const catalog: Catalog | undefined = shop === null
      ? undefined
      : {
          match: (words, bounds, limit) => store.catalog.match(shop, words, { ...bounds, limit }),
          similar: (productId, limit) => store.catalog.similar(shop, productId, limit),
          newest: limit => store.catalog.match(shop, [], { limit }),
          topTypes: limit => store.catalog.topTypes(shop, limit)
        }
    const byModel = model === undefined ? undefined : await modelAnswer(model, context, message)
    const decided = byModel ?? await answer(context, message, catalog)
    await acknowledged
    const messages = [...decided.messages]
    if (!context.disclosed && typeof messages[0]?.text === 'string') {
      messages[0] = { ...messages[0], text: `${disclosure}\n\n${messages[0].text}` }
      await store.bot.setDisclosed(message.pageId, message.psid, true)
    }
    if (decided.optedOut !== undefined) await store.bot.setOptedOut(message.pageId, message.psid, decided.optedOut)
    if (decided.handover === true) await store.bot.setWithHuman(message.pageId, message.psid, true)
    for (const [index, body] of messages.entries()) {
      const { pageId, psid } = message
      await outbox.enqueue({ dedupeKey: `reply:${message.mid}:${index}`, pageId, psid, source: 'bot', message: body })
    }
    if (decided.handover === true) {
      // Queued behind the notice, so whichever replica sends it passes the conversation after it: once the Page
      // Inbox has the conversation, this app could not send the notice.
      await outbox.enqueue({
        dedupeKey: `reply:${message.mid}:handover`,
        pageId: message.pageId,
        psid: message.psid,
        source: 'bot',
        action: 'pass_thread_control',
        message: { metadata: 'The customer asked for a person.' }
      })
    }
  }

  // Conversation Routing moved a conversation: back to this app (the bot answers again), or to the Page Inbox.
  fastify.messenger.on('handover', handover => {
    store.bot.setWithHuman(handover.pageId, handover.psid, handover.toAppId !== fastify.config.FACEBOOK_APP_ID)
      .catch(err => log.warn({ err, pageId: handover.pageId }, 'hand-over not recorded'))
  })

  fastify.messenger.on('message', (message: MessageEvent) => {
    if (message.direction !== 'in' || !message.fromCustomer || message.standby === true) return
    reply(message).catch(err => log.warn({ err, pageId: message.pageId }, 'the bot could not answer'))
  })
}, { name: 'bot', dependencies: ['store', 'outbox'], fastify: '5.x' })
