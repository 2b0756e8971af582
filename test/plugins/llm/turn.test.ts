import t from 'tap'
import { createChatClient } from '../../../plugins/llm/client.js'
import { factIn, runTurn, type TurnInput } from '../../../plugins/llm/turn.js'
import type { MatchedProduct } from '../../../plugins/store/catalog.js'
import { type Script, startOpenAiEmulator } from '../../../tools/emulator/openai.js'
import { freePort } from '../../helper.js'

const product = (id: string, title: string, price = '25.00'): MatchedProduct => ({
  id,
  title,
  handle: title.toLowerCase().replaceAll(' ', '-'),
  description: `${title}, made to last.`,
  vendor: 'Fleet',
  productType: 'Shoes',
  url: null,
  imageUrl: null,
  price: { min: price, max: price, currency: 'EUR' },
  variants: [{ id: `${id}0`, title: 'Default', price, available: true }]
})
const CATALOG = [product('11', 'Red Trail Shoe'), product('12', 'Blue Road Shoe', '60.00'), product('13', 'Wool Scarf')]
const searches: Array<{ query: string, bounds: { min?: number, max?: number } }> = []
const search = async (query: string, bounds: { min?: number, max?: number }) => {
  searches.push({ query, bounds })
  return CATALOG.filter(p => query.split(' ').some(word => p.title.toLowerCase().includes(word)) && (bounds.max === undefined || Number(p.price.min) <= bounds.max))
}
const input: TurnInput = {
  shop: 'fleet.myshopify.com',
  currency: 'EUR',
  instructions: 'Be cheerful. Push the trail shoes.',
  history: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'shoes for trail running under 50?' }],
  maxProducts: 5,
  maxRounds: 3
}

const API_KEY = 'sk-test-key-0123456789'
const emulator = await startOpenAiEmulator({ apiKey: API_KEY })
t.teardown(emulator.close)
const chat = createChatClient({ baseUrl: emulator.url, apiKey: API_KEY, model: 'test-model' })
t.teardown(chat.close)

/** A model that searches once with `query`, then answers with `final` (a function of the tool's result). */
const searchThenAnswer = (final: (found: Array<{ id: string }>) => unknown, query = 'trail shoe'): Script => request => {
  const last = request.messages!.at(-1)!
  if (last.role === 'tool') return { content: JSON.stringify(final(JSON.parse(last.content!))) }
  return { toolCalls: [{ name: 'search_products', arguments: { query, maxPrice: 50, minPrice: null } }] }
}
async function turn (script: Script, timeoutMs = 3000, overrides: Partial<TurnInput> = {}) {
  emulator.setScript(script)
  emulator.requests.length = 0
  searches.length = 0
  const started = Date.now()
  const result = await runTurn(chat, search, { ...input, ...overrides }, AbortSignal.timeout(timeoutMs), timeoutMs)
  return { result, ms: Date.now() - started }
}

t.test('a tool round, then a structured answer: the products are the ones the search returned', async t => {
  const { result } = await turn(searchThenAnswer(found => ({ text: 'These are great for muddy trails!', productIds: found.map(p => p.id) })))
  t.match(result, { kind: 'answer', text: 'These are great for muddy trails!', droppedIds: 0, textReplaced: false })
  t.same(result.kind === 'answer' && result.products.map(p => p.title), ['Red Trail Shoe'])
  t.same(searches, [{ query: 'trail shoe', bounds: { max: 50 } }], 'the tool ran the catalog search with the price bound')
  t.equal(emulator.requests.length, 2)
  const [first, second] = emulator.requests
  t.equal(first!.body.model, 'test-model')
  t.same(first!.body.tools!.map(tool => tool.function.name), ['search_products', 'handover_to_human'])
  t.equal(first!.body.response_format!.type, 'json_schema')
  t.match(first!.body.messages![0], { role: 'system', content: /fleet\.myshopify\.com[\s\S]*Never write prices[\s\S]*Push the trail shoes/ })
  t.same(first!.body.messages!.slice(1).map(m => m.content), ['hi', 'Hello!', 'shoes for trail running under 50?'], 'the history as turns')
  t.match(second!.body.messages!.at(-1), { role: 'tool', content: /"title":"Red Trail Shoe","price":"25.00","currency":"EUR","availability":"in stock"/ })
  t.same(result.usage.completionTokens, 40, 'usage summed over both calls')
  t.ok(result.usage.promptTokens > 0)
})

t.test('ids the search did not return in this turn are dropped and counted', async t => {
  const { result } = await turn(searchThenAnswer(found => ({ text: 'Take a look!', productIds: ['999', ...found.map(p => p.id), '12'] })))
  t.match(result, { kind: 'answer', droppedIds: 2 })
  t.same(result.kind === 'answer' && result.products.map(p => p.id), ['11'])
})

t.test('a text stating a price, a link, an e-mail or a phone is replaced by the plain intro line', async t => {
  for (const text of ['Only €25 today!', 'Just 25 EUR', 'see https://evil.example/x', 'visit shop.com now', 'write to me@shop.example', 'call +1 555 123 4567']) {
    const { result } = await turn(searchThenAnswer(found => ({ text, productIds: found.map(p => p.id) })))
    t.match(result, { kind: 'answer', text: 'Here is 1 product for you:', textReplaced: true }, text)
  }
  const { result } = await turn(searchThenAnswer(() => ({ text: 'It costs $10', productIds: [] })))
  t.match(result, { kind: 'fallback', reason: 'text_with_facts' }, 'with nothing to show, the deterministic bot answers')
  t.equal(factIn('Great for 2 people, size 42'), undefined, 'numbers without a currency are fine')
  t.equal(factIn('Ideal para la lluvia, ¡te encantará!'), undefined)
})

t.test('handover_to_human ends the turn as a hand-over', async t => {
  const { result } = await turn(() => ({ toolCalls: [{ name: 'handover_to_human', arguments: { reason: 'asked for a person' } }] }))
  t.match(result, { kind: 'handover' })
})

t.test('each failure falls back, with its reason', async t => {
  const cases: Array<[string, Script, string]> = [
    ['a refusal', () => ({ refusal: 'I cannot help with that.' }), 'refusal'],
    ['an answer that is not the schema', () => ({ content: '{"words": "hello"}' }), 'invalid_json'],
    ['an answer that is not JSON', () => ({ content: 'Sure! Here you go.' }), 'invalid_json'],
    ['a body that is not JSON', () => ({ raw: '<html>oops</html>' }), 'bad_answer'],
    ['a tool the service does not have', () => ({ toolCalls: [{ name: 'place_order', arguments: {} }] }), 'unknown_tool'],
    ['tool arguments that are not the schema', () => ({ toolCalls: [{ name: 'search_products', arguments: '{"q": 1' }] }), 'bad_tool_arguments'],
    ['more rounds than allowed', () => ({ toolCalls: [{ name: 'search_products', arguments: { query: 'shoe', maxPrice: null, minPrice: null } }] }), 'too_many_rounds'],
    ['a 400', () => ({ status: 400, body: { error: { message: 'bad request' } } }), 'status_400'],
    ['a 500, twice', () => ({ status: 500 }), 'status_500']
  ]
  for (const [name, script, reason] of cases) {
    const { result } = await turn(script)
    t.match(result, { kind: 'fallback', reason }, name)
  }
  await turn(() => ({ status: 500 }))
  t.equal(emulator.requests.length, 2, 'a 5xx is tried once more, no more')
  await turn(() => ({ status: 400 }))
  t.equal(emulator.requests.length, 1, 'a 4xx is not retried')
  let calls = 0
  const flaky: Script = (request, index) => { calls++; return index === 0 ? { status: 503 } : searchThenAnswer(found => ({ text: 'Here!', productIds: found.map(p => p.id) }))(request, index) }
  const recovered = await turn(flaky)
  t.match(recovered.result, { kind: 'answer', text: 'Here!' }, 'one retry recovers a passing failure')
  t.equal(calls, 3)
  const searchesForever: Script = () => ({ toolCalls: [{ name: 'search_products', arguments: { query: 'shoe', maxPrice: null, minPrice: null } }] })
  t.match((await turn(searchesForever, 3000, { maxRounds: 1 })).result, { kind: 'fallback', reason: 'too_many_rounds' })
  t.equal(emulator.requests.length, 2, 'LLM_MAX_TOOL_ROUNDS=1: one tool round, then one call that must answer')
})

t.test('the deadline holds when the server hangs, and a server that cannot be reached falls back too', async t => {
  const { result, ms } = await turn(() => ({ hangMs: 5000 }), 400)
  t.match(result, { kind: 'fallback', reason: 'timeout' })
  t.ok(ms < 1000, `back within the deadline (${ms} ms for a 400 ms deadline)`)
  const nowhere = createChatClient({ baseUrl: `http://127.0.0.1:${await freePort()}/v1`, apiKey: '', model: 'm' })
  t.teardown(nowhere.close)
  const down = await runTurn(nowhere, search, input, AbortSignal.timeout(2000), 2000)
  t.match(down, { kind: 'fallback', reason: 'unreachable' })
})

t.test('the key goes in the Authorization header only; a wrong key is a 401 and a fallback', async t => {
  await turn(searchThenAnswer(found => ({ text: 'Here!', productIds: found.map(p => p.id) })))
  t.equal(emulator.requests[0]!.headers.authorization, `Bearer ${API_KEY}`)
  t.notOk(JSON.stringify(emulator.requests.map(r => r.body)).includes(API_KEY), 'not in any body')
  const wrong = createChatClient({ baseUrl: emulator.url, apiKey: 'sk-wrong', model: 'm' })
  t.teardown(wrong.close)
  t.match(await runTurn(wrong, search, input, AbortSignal.timeout(2000), 2000), { kind: 'fallback', reason: 'status_401' })
})
