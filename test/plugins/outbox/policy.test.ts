import fc from 'fast-check'
import t from 'tap'
import { deliveryFor, HUMAN_AGENT_WINDOW_MS, STANDARD_WINDOW_MS } from '../../../plugins/outbox/policy.js'

const NOW = Date.parse('2026-12-05T12:00:00Z')
const ago = (ms: number) => new Date(NOW - ms)
const HOUR = 3_600_000

t.test('inside the 24-hour window: RESPONSE for the bot and a person, UPDATE for a campaign, no tag', async t => {
  t.same(deliveryFor('bot', ago(23 * HOUR), NOW, false), { messagingType: 'RESPONSE' })
  t.same(deliveryFor('human', ago(0), NOW, true), { messagingType: 'RESPONSE' })
  t.same(deliveryFor('campaign', ago(HOUR), NOW, false), { messagingType: 'UPDATE' })
})

t.test('outside it: only a person, up to 7 days, with HUMAN_AGENT, when the app has the permission', async t => {
  t.same(deliveryFor('human', ago(25 * HOUR), NOW, true), { messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })
  t.same(deliveryFor('human', ago(25 * HOUR), NOW, false), { skip: 'window_closed' }, 'without MESSENGER_HUMAN_AGENT')
  t.same(deliveryFor('human', ago(HUMAN_AGENT_WINDOW_MS), NOW, true), { skip: 'window_closed' }, 'not after 7 days')
  t.same(deliveryFor('bot', ago(STANDARD_WINDOW_MS), NOW, true), { skip: 'window_closed' }, 'never the bot')
  t.same(deliveryFor('campaign', ago(STANDARD_WINDOW_MS + 1), NOW, true), { skip: 'window_closed' }, 'never a campaign')
  t.same(deliveryFor('bot', null, NOW, true), { skip: 'no_customer_message' })
})

t.test('property: a tag is only ever HUMAN_AGENT, on a person\'s message inside 7 days; nothing goes out past them', async t => {
  let runs = 0
  fc.assert(fc.property(
    fc.constantFrom('bot' as const, 'human' as const, 'campaign' as const), fc.integer({ min: -HOUR, max: 30 * 24 * HOUR }), fc.boolean(),
    (source, age, humanAgent) => {
      runs++
      const decided = deliveryFor(source, ago(age), NOW, humanAgent)
      if ('tag' in decided) return decided.tag === 'HUMAN_AGENT' && source === 'human' && humanAgent && age < HUMAN_AGENT_WINDOW_MS
      if ('messagingType' in decided) return age < STANDARD_WINDOW_MS
      return age >= STANDARD_WINDOW_MS
    }), { numRuns: 2000 })
  t.comment(`${runs} random decisions checked`)
  t.equal(runs, 2000)
})
