import fc from 'fast-check'
import t from 'tap'
import { understand } from '../../../plugins/bot/understand.js'

t.test('the meaningful words: "do you have red running shoes?"', async t => {
  t.same(understand('do you have red running shoes?'), { words: ['red', 'running', 'shoes'] })
  t.same(understand('Any croissants left? 🥐').words, ['croissants', 'left'])
})

t.test('price phrases become bounds and leave the words', async t => {
  const cases: Array<[string, { min?: number, max?: number }]> = [
    ['shoes under $50', { max: 50 }],
    ['shoes below 50', { max: 50 }],
    ['shoes less than 50 dollars', { max: 50 }],
    ['shoes max 50', { max: 50 }],
    ['shoes up to 50', { max: 50 }],
    ['shoes < 50', { max: 50 }],
    ['shoes over 20', { min: 20 }],
    ['shoes above 20', { min: 20 }],
    ['shoes more than 20', { min: 20 }],
    ['shoes at least 20', { min: 20 }],
    ['shoes between 20 and 50', { min: 20, max: 50 }],
    ['shoes between 50 and 20', { min: 20, max: 50 }],
    ['shoes under 49.99€', { max: 49.99 }]
  ]
  for (const [text, bounds] of cases) t.same(understand(text), { words: ['shoes'], ...bounds }, text)
})

t.test('property: whatever a customer writes, the words are lower-case word characters and the bounds numbers', async t => {
  let runs = 0
  fc.assert(fc.property(fc.string({ maxLength: 300 }), text => {
    runs++
    const question = understand(text)
    return question.words.length <= 12 && question.words.every(word => /^[\p{L}\p{N}']+$/u.test(word) && word === word.toLowerCase()) &&
      [question.min, question.max].every(bound => bound === undefined || Number.isFinite(bound))
  }), { numRuns: 1000 })
  t.comment(`${runs} random messages understood`)
  t.equal(runs, 1000)
})
