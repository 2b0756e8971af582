import type { FastifyBaseLogger } from 'fastify'
import type { MessengerStore } from '../store/messenger.js'
import { type MessengerEvent, messengerEvents } from './events.js'

type MessageEvent = Extract<MessengerEvent, { kind: 'message' }>

/**
 * Works the inbox after the webhook has answered: claims due items, applies them, retries failures with
 * backoff and parks them after the last attempt. `kick` starts a pass at once; `stop` waits for the current one.
 */
export function startInboxWorker (options: { store: MessengerStore, log: FastifyBaseLogger, onMessage: (event: MessageEvent) => void, idleMs?: number, batch?: number }) {
  const { store, log, onMessage, idleMs = 500, batch = 50 } = options
  let running = true
  let timer: NodeJS.Timeout | undefined
  let pass: Promise<number> | undefined

  const withEvents = (item: { id: string, body: string }) => ({ id: item.id, events: messengerEvents(JSON.parse(item.body)) })

  async function drain (): Promise<number> {
    const items = await store.claim(batch)
    if (items.length === 0) return 0
    try {
      for (const event of await store.apply(items.map(withEvents))) onMessage(event)
    } catch {
      // One bad item fails the whole batch's transaction: apply them one by one, so only it is retried.
      for (const item of items) {
        try {
          for (const event of await store.apply([withEvents(item)])) onMessage(event)
        } catch (err) {
          const outcome = await store.fail(item.id, item.attempts, (err as Error).message)
          log.warn({ err, inboxId: item.id, attempts: item.attempts, outcome }, 'inbox item failed')
        }
      }
    }
    return items.length
  }

  function schedule (delay: number) {
    if (!running) return
    clearTimeout(timer)
    timer = setTimeout(run, delay)
    timer.unref()
  }

  function run () {
    if (pass !== undefined) return
    pass = drain().catch(err => { log.warn({ err }, 'inbox pass failed'); return 0 })
    pass.then(claimed => {
      pass = undefined
      schedule(claimed === batch ? 0 : idleMs)
    }, () => {})
  }

  // A run that died mid-batch left its items leased; with the embedded store they can only be ours.
  pass = store.releaseLeases().then(() => 0, err => { log.warn({ err }, 'inbox leases not released'); return 0 })
  pass.then(() => { pass = undefined; schedule(0) }, () => {})
  return {
    kick: () => schedule(0),
    async stop () {
      running = false
      clearTimeout(timer)
      await pass
    }
  }
}
