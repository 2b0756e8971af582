import fc from 'fast-check'
import t from 'tap'
import { answer, type Catalog } from '../../../plugins/bot/answer.js'
import { truncate } from '../../../plugins/core/plain-text.js'
import { type BotContext, DEFAULT_SETTINGS } from '../../../plugins/store/bot.js'

t.test('truncate counts what a person sees: never half an emoji or a letter without its accent', async t => {
  t.equal(truncate('short', 80), 'short')
  t.equal(truncate('👩‍👩‍👧‍👦'.repeat(100), 5), `${'👩‍👩‍👧‍👦'.repeat(4)}…`)
  t.equal(truncate('e\u0301'.repeat(10), 3), 'e\u0301e\u0301…')
  let runs = 0
  const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' })
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.integer({ min: 2, max: 100 }), (text, max) => {
    runs++
    const cut = truncate(text, max)
    const count = [...segmenter.segment(cut)].length
    return count <= max && (cut === text || (cut.endsWith('…') && text.startsWith(cut.slice(0, -1))))
  }), { numRuns: 1000 })
  t.comment(`${runs} random texts cut`)
  t.equal(runs, 1000)
})

const context: BotContext = {
  workspace: 'w', settings: DEFAULT_SETTINGS, canMessage: true, shop: 'shop.myshopify.com', withHuman: false, disclosed: true
}
const emptyCatalog: Catalog = { match: async () => [], similar: async () => [], newest: async () => [], topTypes: async () => [] }

t.test('no shop, or a catalog with nothing in it: the shop will answer, and a person takes over', async t => {
  t.match(await answer({ ...context, shop: null }, { text: 'shoes' }, undefined), { handover: true, messages: [{ text: /will answer you here soon/ }] })
  t.match(await answer(context, { text: 'shoes' }, emptyCatalog), { handover: true })
})

t.test('the greeting names the shop (or says the owner\'s words) and offers its top product types', async t => {
  const catalog = { ...emptyCatalog, topTypes: async () => ['Shoes', 'Scarves'] }
  const greeted = await answer(context, { text: '', payload: 'GET_STARTED' }, catalog)
  t.match(greeted.messages[0], { text: /Welcome to shop\.myshopify\.com/, quick_replies: [{ title: 'Shoes' }, { title: 'Scarves' }, { title: 'Talk to a person' }] })
  const own = await answer({ ...context, settings: { ...context.settings, greeting: 'Bonjour !' } }, { text: 'hello' }, catalog)
  t.match(own.messages[0], { text: 'Bonjour !' })
})
