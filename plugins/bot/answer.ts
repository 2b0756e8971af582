import { truncate } from '../core/plain-text.js'
import type { BotContext } from '../store/bot.js'
import type { MatchedProduct } from '../store/catalog.js'
import { carousel, formatPrice, LIMITS, type QuickReply, TALK_TO_A_PERSON, withQuickReplies } from './reply.js'
import { type Question, understand } from './understand.js'

export const HANDOVER_NOTICE = 'A person from the shop will answer you here as soon as they can.'

/** What the bot does about one customer message: the messages to send, in order, and what changes. */
export interface Answer {
  messages: Array<Record<string, unknown>>
  handover?: true
  optedOut?: boolean
}

export interface Catalog {
  match (words: string[], bounds: { min?: number, max?: number }, limit: number): Promise<MatchedProduct[]>
  similar (productId: string, limit: number): Promise<MatchedProduct[]>
  newest (limit: number): Promise<MatchedProduct[]>
  topTypes (limit: number): Promise<string[]>
}

const HANDOVER_WORDS = new Set(['human', 'agent', 'person', 'someone', 'operator', 'representative'])
const GREETINGS = new Set(['hi', 'hello', 'hey', 'hiya', 'howdy', 'hola', 'bonjour', 'hallo', 'yo', 'morning', 'evening', 'good', 'there'])
const wordsOf = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
const asksForPerson = (words: string[]) => words.length > 0 && words.length <= 5 && words.some(word => HANDOVER_WORDS.has(word))
const OPT_WORDS = new Set(['stop', 'unsubscribe', 'start'])

/**
 * What the bot handles by its rules even with a language model: a tapped quick reply or postback (it carries a
 * payload), asking for a person, "stop" and "start". Everything else is free text a model may answer.
 */
export function isCommand (message: { text: string, payload?: string }): boolean {
  const words = wordsOf(message.text)
  return (message.payload ?? '') !== '' || asksForPerson(words) || (words.length === 1 && OPT_WORDS.has(words[0]!))
}

export const textMessage = (value: string) => ({ text: truncate(value, LIMITS.text) })

function priceWords (question: Question, currency: string): string {
  if (question.min !== undefined && question.max !== undefined) {
    return ` between ${formatPrice(String(question.min), currency)} and ${formatPrice(String(question.max), currency)}`
  }
  if (question.max !== undefined) return ` under ${formatPrice(String(question.max), currency)}`
  if (question.min !== undefined) return ` from ${formatPrice(String(question.min), currency)}`
  return ''
}

const text = textMessage

const OPTED_OUT = 'You will get no more promotions from us. Your questions are still answered here; reply "start" to get them again.'
const defaultGreeting = (shop: string, example = 'gifts') =>
  `Hi! Welcome to ${shop}. Ask me about our products, for example "${example} under 50".`

/**
 * The deterministic bot: greeting, handover words, opt-out and opt-in, "more like this", and otherwise a catalog
 * search whose products come back as one short text and a carousel. Every fact shown comes from the catalog.
 */
export async function answer (
  context: BotContext, message: { text: string, payload?: string }, catalog: Catalog | undefined
): Promise<Answer> {
  const words = wordsOf(message.text)
  const payload = message.payload ?? ''
  if (payload === 'HUMAN' || asksForPerson(words)) {
    return { messages: [text(HANDOVER_NOTICE)], handover: true }
  }
  if (words.length === 1 && (words[0] === 'stop' || words[0] === 'unsubscribe')) {
    return { messages: [text(OPTED_OUT)], optedOut: true }
  }
  if (words.length === 1 && words[0] === 'start') {
    return { messages: [text('You will get our promotions again. Reply "stop" at any time to stop them.')], optedOut: false }
  }
  if (catalog === undefined || context.shop === null) {
    return { messages: [text('Thanks for your message! The shop will answer you here soon.')], handover: true }
  }
  const limit = Math.min(context.settings.maxProducts, LIMITS.elements)
  if (payload === 'GET_STARTED' || (words.length > 0 && words.every(word => GREETINGS.has(word)))) {
    const types = await catalog.topTypes(3)
    const greeting = context.settings.greeting ?? defaultGreeting(context.shop, types[0])
    const choices = [...types.map(type => ({ title: type, payload: `TYPE:${type}` })), TALK_TO_A_PERSON]
    return { messages: [withQuickReplies(text(greeting), choices)] }
  }
  if (payload.startsWith('MORE:')) {
    const similar = await catalog.similar(payload.slice('MORE:'.length), limit)
    if (similar.length > 0) {
      return { messages: [text('Here are some like it:'), withQuickReplies(carousel(context.shop, similar, {}), [TALK_TO_A_PERSON])] }
    }
  }
  const question = payload.startsWith('TYPE:') ? understand(payload.slice('TYPE:'.length)) : understand(message.text)
  const found = await catalog.match(question.words, question, limit)
  if (found.length === 0) {
    const newest = await catalog.newest(limit)
    if (newest.length === 0) return { messages: [text('Thanks for your message! The shop will answer you here soon.')], handover: true }
    return {
      messages: [
        text("I couldn't find that in the shop. Here is what's new:"),
        withQuickReplies(carousel(context.shop, newest, {}), [TALK_TO_A_PERSON])
      ]
    }
  }
  const currency = found[0]!.price.currency
  const what = question.words.length > 0 ? ` for "${question.words.join(' ')}"` : ''
  const refinements: QuickReply[] = [25, 50].filter(max => question.max === undefined || max < question.max)
    .map(max => ({
      title: `Under ${formatPrice(String(max), currency).replace(/\.00$/, '')}`,
      payload: `TYPE:${question.words.join(' ')} under ${max}`
    }))
  return {
    messages: [
      text(`Here ${found.length === 1 ? 'is 1 product' : `are ${found.length} products`}${what}${priceWords(question, currency)}:`),
      withQuickReplies(carousel(context.shop, found, question), [...refinements, TALK_TO_A_PERSON])
    ]
  }
}
