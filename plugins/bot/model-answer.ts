import type { FastifyBaseLogger } from 'fastify'
import type { ChatClient } from '../llm/client.js'
import { runTurn } from '../llm/turn.js'
import type { BotContext, BotStore } from '../store/bot.js'
import type { CatalogStore } from '../store/catalog.js'
import type { ConversationStore, MessageEvent } from '../store/conversations.js'
import { type Answer, HANDOVER_NOTICE, isCommand, textMessage } from './answer.js'
import { carousel, TALK_TO_A_PERSON, withQuickReplies } from './reply.js'
import { understand } from './understand.js'

const HISTORY = 10
// What the service itself wrote into a conversation for a message without text (a carousel): not a turn of words.
const PLACEHOLDER = /^\[[a-z ]+\]$/

export interface ModelDeps {
  chat: ChatClient
  store: { bot: BotStore, catalog: CatalogStore, conversations: ConversationStore }
  log: FastifyBaseLogger
  timeoutMs: number
  maxRounds: number
}

/**
 * The language model's answer to a customer's free text, or undefined when the deterministic bot answers instead:
 * a command (a tapped payload, "human", "stop"), no shop, the model switched off for the workspace, its daily token
 * budget spent, or the model's turn failed (the reason is logged, never the customer's words).
 */
export async function modelAnswer (deps: ModelDeps, context: BotContext, message: MessageEvent): Promise<Answer | undefined> {
  const { store, log } = deps
  const shop = context.shop
  if (shop === null || context.settings.llm === false || isCommand(message)) return undefined
  const budget = context.settings.dailyTokenBudget
  if (budget !== null) {
    const spent = await store.bot.llmUsage(context.workspace, new Date())
    if (spent.promptTokens + spent.completionTokens >= budget) {
      log.info({ workspace: context.workspace }, 'the daily token budget is spent: the deterministic bot answers')
      return undefined
    }
  }
  const recent = await store.conversations.recentMessages(message.pageId, message.psid, HISTORY)
  const history = recent.filter(turn => !PLACEHOLDER.test(turn.text))
    .map(turn => ({ role: turn.direction === 'in' ? 'user' as const : 'assistant' as const, content: turn.text }))
  if (history.at(-1)?.content !== message.text) history.push({ role: 'user', content: message.text })

  const search = (query: string, bounds: { min?: number, max?: number }, limit: number) => {
    const question = understand(query)
    return store.catalog.match(shop, question.words, { min: bounds.min ?? question.min, max: bounds.max ?? question.max, limit })
  }
  const { instructions, maxProducts } = context.settings
  const input = { shop, currency: undefined, instructions, history, maxProducts, maxRounds: deps.maxRounds }
  const result = await runTurn(deps.chat, search, input, AbortSignal.timeout(deps.timeoutMs), deps.timeoutMs)
  const { promptTokens, completionTokens } = result.usage
  if (promptTokens + completionTokens > 0) await store.bot.addLlmUsage(context.workspace, new Date(), promptTokens, completionTokens)

  switch (result.kind) {
    case 'fallback':
      log.info({ pageId: message.pageId, reason: result.reason }, 'the model did not answer: the deterministic bot does')
      return undefined
    case 'handover':
      return { messages: [textMessage(HANDOVER_NOTICE)], handover: true }
    case 'answer':
      if (result.droppedIds > 0 || result.textReplaced) {
        log.info({ pageId: message.pageId, droppedIds: result.droppedIds, textReplaced: result.textReplaced },
          'the model\'s answer was corrected: only the catalog states facts')
      }
      return {
        messages: result.products.length === 0
          ? [withQuickReplies(textMessage(result.text), [TALK_TO_A_PERSON])]
          : [textMessage(result.text), withQuickReplies(carousel(shop, result.products, {}), [TALK_TO_A_PERSON])]
      }
  }
}
