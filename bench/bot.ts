import { setTimeout as sleep } from 'node:timers/promises'
import type { FacebookEmulator } from '../tools/emulator/facebook.js'

/** What customers ask: products of the emulated shop, with and without a price phrase, and one it does not sell. */
const QUESTIONS = [
  'do you have a wool scarf under 60?', 'red boots', 'linen shirt below 40', 'any organic bread?',
  'vintage bag between 20 and 80', 'silk dress', 'canvas bag under 50', 'croissant', 'blue socks', 'a bicycle'
]
// Every answer is two messages: the short text, then the carousel (the matches, or what is new when none match).
const MESSAGES_PER_ANSWER = 2
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

/**
 * Customers write at a steady `rate` per second for `seconds`, each a new PSID on one of `pageIds` in turn, through
 * the emulator's signed deliveries. The latency of each is from the moment its delivery was due to the Send API call
 * that carried the answer's first message (as the emulator received it); the acknowledgement of the delivery is the
 * baseline measured alongside. Waits up to `drainMs` for every answer, then counts what was sent.
 */
export async function customersAsk (
  emulator: FacebookEmulator, pageIds: string[], options: { rate: number, seconds: number, firstPsid: number, drainMs?: number }
) {
  const { rate, seconds, firstPsid, drainMs = 30_000 } = options
  const dueAt = new Map<string, number>()
  const ackMs: number[] = []
  let deliveryErrors = 0
  const pending = new Set<Promise<void>>()
  const started = Date.now()
  const total = rate * seconds
  for (let sent = 0; sent < total;) {
    const due = Math.min(total, Math.floor((Date.now() - started) * rate / 1000))
    for (; sent < due; sent++) {
      const psid = String(firstPsid + sent)
      const at = started + sent * 1000 / rate
      dueAt.set(psid, at)
      const delivery = emulator.deliverMessage(pageIds[sent % pageIds.length]!, psid, QUESTIONS[sent % QUESTIONS.length]!)
        .then(status => { ackMs.push(Date.now() - at); if (status !== 200) deliveryErrors++ }, () => { deliveryErrors++ })
        .finally(() => pending.delete(delivery))
      pending.add(delivery)
    }
    await sleep(2)
  }
  await Promise.all(pending)

  const expected = total * MESSAGES_PER_ANSWER
  const ours = () => emulator.sentMessages.filter(message => dueAt.has(message.psid))
  const until = Date.now() + drainMs
  while (ours().length < expected && Date.now() < until) await sleep(100)
  await sleep(500)
  const byPsid = new Map<string, number[]>()
  const bodies = new Set<string>()
  let duplicates = 0
  for (const message of ours()) {
    byPsid.set(message.psid, [...byPsid.get(message.psid) ?? [], message.at])
    const body = `${message.psid}:${JSON.stringify(message.message)}`
    if (bodies.has(body)) duplicates++
    bodies.add(body)
  }
  const replyMs = [...byPsid].map(([psid, times]) => Math.min(...times) - dueAt.get(psid)!).sort((a, b) => a - b)
  ackMs.sort((a, b) => a - b)
  const answeredTwice = [...byPsid.values()].filter(times => times.length > MESSAGES_PER_ANSWER).length
  return {
    rate,
    customers: total,
    expected,
    sent: ours().length,
    unanswered: total - byPsid.size,
    duplicates: duplicates + answeredTwice,
    deliveryErrors,
    replyP50: percentile(replyMs, 0.5),
    replyP99: percentile(replyMs, 0.99),
    ackP50: percentile(ackMs, 0.5),
    ackP99: percentile(ackMs, 0.99)
  }
}
