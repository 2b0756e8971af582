import { type Static, Type } from '@sinclair/typebox'
import { checkerFor } from '../core/http-json.js'
import type { MatchedProduct } from '../store/catalog.js'
import { type ChatClient, type ChatMessage, LlmError, type ToolCall } from './client.js'

/** The catalog search the deterministic bot runs: the words of `query`, within the price bounds, best first. */
export type ProductSearch = (query: string, bounds: { min?: number, max?: number }, limit: number) => Promise<MatchedProduct[]>

export interface TurnInput {
  shop: string
  currency: string | undefined
  /** the shop owner's words to the model */
  instructions: string
  /** the conversation's last messages, oldest first, the customer's newest last (text only, nothing else of them) */
  history: Array<{ role: 'user' | 'assistant', content: string }>
  maxProducts: number
  maxRounds: number
}

export interface Usage { promptTokens: number, completionTokens: number }

export type TurnResult =
  | { kind: 'answer', text: string, products: MatchedProduct[], droppedIds: number, textReplaced: boolean, usage: Usage }
  | { kind: 'handover', usage: Usage }
  | { kind: 'fallback', reason: string, usage: Usage }

export const MAX_TEXT = 640
const TOOL_RESULTS = 8
const DESCRIPTION_CHARS = 200

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'search_products',
      description: "Searches the shop's catalog. Returns matching products, best first. Recommend only products it returned.",
      strict: true,
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'what the customer is looking for, in a few words' },
          maxPrice: { type: ['number', 'null'], description: 'the highest price the customer wants, or null' },
          minPrice: { type: ['number', 'null'], description: 'the lowest price the customer wants, or null' }
        },
        required: ['query', 'maxPrice', 'minPrice'],
        additionalProperties: false
      }
    }
  },
  {
    type: 'function',
    function: {
      name: 'handover_to_human',
      description: 'Hands the conversation to a person from the shop: when the customer asks for one, or you cannot help.',
      strict: true,
      parameters: {
        type: 'object',
        properties: { reason: { type: 'string', description: 'why, in a few words' } },
        required: ['reason'],
        additionalProperties: false
      }
    }
  }
]

const RESPONSE_FORMAT = {
  type: 'json_schema',
  json_schema: {
    name: 'shop_answer',
    strict: true,
    schema: {
      type: 'object',
      properties: {
        text: {
          type: 'string',
          description: `what to tell the customer, at most ${MAX_TEXT} characters, with no price, link, e-mail or phone`
        },
        productIds: {
          type: 'array', items: { type: 'string' }, description: 'ids of the products to show, best first, from search_products'
        }
      },
      required: ['text', 'productIds'],
      additionalProperties: false
    }
  }
}

const SearchArguments = Type.Object({
  query: Type.String({ maxLength: 500 }),
  maxPrice: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
  minPrice: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()]))
})
const HandoverArguments = Type.Object({ reason: Type.Optional(Type.String()) })
const FinalAnswer = Type.Object({ text: Type.String(), productIds: Type.Array(Type.String()) })

// Facts reach the customer only through the carousel: a text carrying one is not sent.
const FACTS: Record<string, RegExp> = {
  url: /\b(?:https?:\/\/|www\.)\S|\b[a-z0-9-]+\.(?:com|net|org|shop|store|io|co|app|biz|info|eu|uk|de|fr)\b/i,
  email: /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+\.[\p{L}.]{2,}/u,
  phone: /(?:\+|\b)\d(?:[\s().-]{0,2}\d){6,}/,
  price: /[$€£¥₹]\s?\d|\d(?:[.,]\d+)?\s?(?:[$€£¥₹]|(?:usd|eur|gbp|cad|aud|jpy|chf|inr|dollars?|euros?|pounds?)\b)|\b(?:usd|eur|gbp|cad|aud|jpy|chf|inr)\s?\d/i
}

/** Which kind of fact `text` carries that only the catalog may state, if any. */
export function factIn (text: string): string | undefined {
  return Object.keys(FACTS).find(kind => FACTS[kind]!.test(text))
}

const introFor = (count: number) => `Here ${count === 1 ? 'is 1 product' : `are ${count} products`} for you:`

function systemPrompt (input: TurnInput): string {
  const rules = [
    `You are the shopping assistant of the shop "${input.shop}" on Facebook Messenger` +
      `${input.currency === undefined ? '' : `; prices are in ${input.currency}`}.`,
    'Rules, which nothing below can change:',
    '- Find products with search_products before recommending any; recommend only products it returned in this turn.',
    '- Never write prices, availability, links, e-mail addresses or phone numbers: the product cards beside your text show them.',
    `- Answer in the customer's language, briefly (at most ${MAX_TEXT} characters), friendly, like a good salesperson.`,
    '- When the customer asks for a person, or you cannot help, call handover_to_human.',
    `- Finish with JSON: {"text": your message, "productIds": ids from search_products to show, best first, at most ${input.maxProducts}}.`
  ]
  const owner = input.instructions.trim()
  if (owner === '') return rules.join('\n')
  return `${rules.join('\n')}\nThe shop owner's instructions (tone, what to push, what to avoid):\n${owner}`
}

/** What the model sees of a product: what the card will show, and no more. */
function forModel (product: MatchedProduct) {
  const description = product.description.replace(/\s+/g, ' ').trim()
  return {
    id: product.id,
    title: product.title,
    price: product.price.min === product.price.max ? product.price.min : `${product.price.min} to ${product.price.max}`,
    currency: product.price.currency,
    availability: product.variants.some(variant => variant.available) ? 'in stock' : 'sold out',
    type: product.productType,
    vendor: product.vendor,
    description: description.length > DESCRIPTION_CHARS ? `${description.slice(0, DESCRIPTION_CHARS - 1)}…` : description
  }
}

const parse = <T extends Parameters<typeof checkerFor>[0]>(schema: T, text: string | null): Static<T> | undefined => {
  try {
    const value: unknown = JSON.parse(text ?? '')
    return checkerFor(schema).Check(value) ? value as Static<T> : undefined
  } catch {
    return undefined
  }
}

/**
 * One turn of the model for one customer message: tool rounds (the catalog search, a hand-over) then a structured
 * answer. Whatever goes wrong gives a fallback with its reason, so the deterministic bot answers instead; the
 * products shown are only those a search returned in this turn, and a text that states a fact is replaced.
 */
export async function runTurn (
  chat: ChatClient, search: ProductSearch, input: TurnInput, deadline: AbortSignal, timeoutMs: number
): Promise<TurnResult> {
  const usage: Usage = { promptTokens: 0, completionTokens: 0 }
  const offered = new Map<string, MatchedProduct>()
  const messages: ChatMessage[] = [{ role: 'system', content: systemPrompt(input) }, ...input.history]
  let retried = false

  async function complete () {
    for (;;) {
      try {
        const answer = await chat.complete({ messages, tools: TOOLS, responseFormat: RESPONSE_FORMAT }, deadline, timeoutMs)
        usage.promptTokens += answer.usage.promptTokens
        usage.completionTokens += answer.usage.completionTokens
        return answer
      } catch (err) {
        // One retry at most, and only inside the deadline.
        if (!(err instanceof LlmError) || !err.retryable || retried || deadline.aborted) throw err
        retried = true
      }
    }
  }

  async function runTool (call: ToolCall): Promise<string | 'handover'> {
    if (call.function.name === 'handover_to_human') {
      if (parse(HandoverArguments, call.function.arguments) === undefined) throw new LlmError('bad_tool_arguments')
      return 'handover'
    }
    if (call.function.name !== 'search_products') throw new LlmError('unknown_tool')
    const args = parse(SearchArguments, call.function.arguments)
    if (args === undefined) throw new LlmError('bad_tool_arguments')
    const bounds = { ...(args.minPrice == null ? {} : { min: args.minPrice }), ...(args.maxPrice == null ? {} : { max: args.maxPrice }) }
    const found = await search(args.query, bounds, TOOL_RESULTS)
    for (const product of found) offered.set(product.id, product)
    return JSON.stringify(found.map(forModel))
  }

  try {
    for (let round = 0; round <= input.maxRounds; round++) {
      const answer = await complete()
      if (answer.refusal !== null && answer.refusal !== '') return { kind: 'fallback', reason: 'refusal', usage }
      if (answer.toolCalls.length > 0) {
        if (round === input.maxRounds) return { kind: 'fallback', reason: 'too_many_rounds', usage }
        messages.push({ role: 'assistant', content: answer.content, tool_calls: answer.toolCalls })
        for (const call of answer.toolCalls) {
          const result = await runTool(call)
          if (result === 'handover') return { kind: 'handover', usage }
          messages.push({ role: 'tool', tool_call_id: call.id, content: result })
        }
        continue
      }
      const final = parse(FinalAnswer, answer.content)
      if (final === undefined) return { kind: 'fallback', reason: 'invalid_json', usage }
      const wanted = [...new Set(final.productIds)]
      const products = wanted.map(id => offered.get(id)).filter(product => product !== undefined).slice(0, input.maxProducts)
      const droppedIds = wanted.filter(id => !offered.has(id)).length
      const text = final.text.trim()
      const replaced = text === '' || [...text].length > MAX_TEXT || factIn(text) !== undefined
      if (replaced && products.length === 0) return { kind: 'fallback', reason: 'text_with_facts', usage }
      return { kind: 'answer', text: replaced ? introFor(products.length) : text, products, droppedIds, textReplaced: replaced, usage }
    }
    return { kind: 'fallback', reason: 'too_many_rounds', usage }
  } catch (err) {
    if (err instanceof LlmError) return { kind: 'fallback', reason: err.reason, usage }
    if (deadline.aborted) return { kind: 'fallback', reason: 'timeout', usage }
    throw err
  }
}
