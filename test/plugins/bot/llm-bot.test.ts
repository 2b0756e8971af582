import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { type Script, startOpenAiEmulator } from '../../../tools/emulator/openai.js'
import { logCapture, testDb } from '../../helper.js'
import { eventually, startSalesStack } from '../../sales-stack.js'

/** The bot with a language model, over real HTTP: the Facebook, Shopify and OpenAI-compatible emulators. */
const API_KEY = 'sk-llm-bot-test-key-0123456789'
const model = await startOpenAiEmulator({ apiKey: API_KEY })
t.teardown(model.close)
const logs = logCapture()
const db = await testDb(t)
const stack = await startSalesStack(t, db, 'llm-bot', {
  env: { LLM_BASE_URL: model.url, LLM_MODEL: 'test-model', LLM_API_KEY: API_KEY, LLM_TIMEOUT_MS: '2000', LOG_LEVEL: 'info' },
  logStream: logs.stream
})
const { facebook, admin } = stack
const PAGE = '104000000000001'
let customers = 0
const nextCustomer = () => String(2_400_000_000_000_300 + ++customers)

type Card = { title: string, subtitle: string }
const to = (psid: string) => facebook.sentMessages.filter(sent => sent.psid === psid)
const cardsOf = (message: Record<string, unknown>) =>
  ((message.attachment as { payload?: { elements?: Card[] } } | undefined)?.payload?.elements ?? [])
const answered = (psid: string, count = 2) => eventually(() => to(psid).length >= count ? to(psid) : undefined)

/** The salesperson: looks for wool under 80, then recommends what it found. */
const salesperson: Script = request => {
  const last = request.messages!.at(-1)!
  if (last.role === 'tool') {
    const found = JSON.parse(last.content!) as Array<{ id: string }>
    return { content: JSON.stringify({ text: 'Wool keeps you warm even when it is wet. These would be perfect:', productIds: found.slice(0, 3).map(p => p.id) }) }
  }
  return { toolCalls: [{ name: 'search_products', arguments: { query: 'wool', maxPrice: 80, minPrice: null } }] }
}

t.test('free text gets the model\'s words and a carousel of real catalog products', async t => {
  model.setScript(salesperson)
  const psid = nextCustomer()
  await facebook.deliverMessage(PAGE, psid, 'something warm for hiking in the rain, not too pricey')
  const [intro, carousel] = await answered(psid)
  t.match(intro!.message.text, /^You're chatting with an automated assistant\.[\s\S]*\n\nWool keeps you warm even when it is wet\. These would be perfect:$/)
  const cards = cardsOf(carousel!.message)
  t.equal(cards.length, 3)
  for (const card of cards) {
    t.match(card.title, /^Wool /, 'a product the search returned')
    t.ok(Number(/€(\d+\.\d\d)/.exec(card.subtitle)![1]) <= 80, `its catalog price: ${card.subtitle}`)
  }
  const sentToModel = JSON.stringify(model.requests.map(request => request.body))
  t.notOk(sentToModel.includes(psid), 'the customer\'s id never reaches the model')
  t.match(model.requests[0]!.body.messages!.at(-1), { role: 'user', content: 'something warm for hiking in the rain, not too pricey' })
  const settings = (await admin('/bot')).body as { llm: boolean, usage: { date: string, promptTokens: number, completionTokens: number } }
  t.equal(settings.llm, true)
  t.equal(settings.usage.date, new Date().toISOString().slice(0, 10))
  t.equal(settings.usage.completionTokens, 40, 'the server\'s counts, both calls')
  t.ok(settings.usage.promptTokens > 0)
})

t.test('commands keep their rules: a quick reply, "human" and "stop" never reach the model', async t => {
  model.setScript(salesperson)
  model.requests.length = 0
  const psid = nextCustomer()
  await facebook.deliverEvents([{ pageId: PAGE, psid, event: { text: 'Under €25', quickReply: 'TYPE:wool under 25' } }])
  await answered(psid)
  await facebook.deliverMessage(PAGE, psid, 'stop')
  await answered(psid, 3)
  await facebook.deliverMessage(PAGE, psid, 'I want a human')
  await answered(psid, 4)
  t.equal(model.requests.length, 0)
  t.match(to(psid)[3]!.message.text, 'A person from the shop will answer you here')
})

t.test('when the model fails the deterministic bot answers, and the customer still gets products', async t => {
  model.setScript(() => ({ status: 500 }))
  model.requests.length = 0
  const psid = nextCustomer()
  await facebook.deliverMessage(PAGE, psid, 'wool scarf')
  const [intro, carousel] = await answered(psid)
  t.match(intro!.message.text, /Here (are \d+ products|is 1 product) for "wool scarf":$/)
  t.ok(cardsOf(carousel!.message).length > 0)
  t.equal(model.requests.length, 2, 'tried, retried once, then the rules answered')
  const line = logs.lines.map(l => JSON.parse(l) as { msg: string, reason?: string }).find(l => l.reason === 'status_500')
  t.match(line, { msg: 'the model did not answer: the deterministic bot does' })
})

t.test('the owner\'s settings: instructions reach the model, the switch turns it off, the budget stops it for the day', async t => {
  model.setScript(salesperson)
  const put = await admin('/bot', { method: 'PUT', body: { instructions: 'Always mention free returns.' } })
  t.equal(put.status, 200)
  t.match(put.body, { enabled: true, llm: true, instructions: 'Always mention free returns.', dailyTokenBudget: null })
  t.equal((await admin('/bot', { method: 'PUT', body: { instructions: 'x'.repeat(2001) } })).status, 400)
  t.equal((await admin('/bot', { method: 'PUT', body: { dailyTokenBudget: 0 } })).status, 400)
  model.requests.length = 0
  const first = nextCustomer()
  await facebook.deliverMessage(PAGE, first, 'warm things please')
  await answered(first)
  t.match(model.requests[0]!.body.messages![0]!.content, /Always mention free returns\./)

  t.equal((await admin('/bot', { method: 'PUT', body: { llm: false } })).status, 200)
  model.requests.length = 0
  const second = nextCustomer()
  await facebook.deliverMessage(PAGE, second, 'warm things please')
  await answered(second)
  t.equal(model.requests.length, 0, 'switched off: the rules answer')

  const { usage } = (await admin('/bot')).body as { usage: { promptTokens: number, completionTokens: number } }
  const spent = usage.promptTokens + usage.completionTokens
  t.equal((await admin('/bot', { method: 'PUT', body: { llm: true, dailyTokenBudget: spent } })).status, 200)
  const third = nextCustomer()
  await facebook.deliverMessage(PAGE, third, 'wool please')
  const [intro] = await answered(third)
  t.equal(model.requests.length, 0, 'past the budget: the rules answer')
  t.match(intro!.message.text, /Here (are \d+ products|is 1 product) for "wool":$/)
  await admin('/bot', { method: 'PUT', body: { dailyTokenBudget: null } })
})

t.test('no log line carries the API key or what a customer wrote', async t => {
  await sleep(100)
  const all = logs.lines.join('\n')
  t.notOk(all.includes(API_KEY), 'never the key')
  for (const words of ['something warm for hiking in the rain', 'warm things please', 'wool please']) t.notOk(all.includes(words), words)
})
