import type { FastifyBaseLogger } from 'fastify'
import type { InboxItem, InboxStore } from './store/inbox.js'

/**
 * Works one source's inbox after the webhook has answered: claims due items, applies them, retries failures
 * with backoff and parks them after the last attempt. `kick` starts a pass at once; `stop` waits for the
 * current one. A batch that fails is applied again item by item, so only the bad item is retried.
 */
export function startInboxWorker (options: { inbox: InboxStore, source: string, log: FastifyBaseLogger, apply: (items: InboxItem[]) => Promise<void>, idleMs?: number, batch?: number }) {
  const { inbox, source, log, apply, idleMs = 500, batch = 50 } = options
  let running = true
  let timer: NodeJS.Timeout | undefined
  let pass: Promise<number> | undefined

  async function drain (): Promise<number> {
    const items = await inbox.claim(source, batch)
    if (items.length === 0) return 0
    try {
      await apply(items)
    } catch {
      for (const item of items) {
        try {
          await apply([item])
        } catch (err) {
          const outcome = await inbox.fail(item.id, item.attempts, (err as Error).message)
          log.warn({ err, source, inboxId: item.id, attempts: item.attempts, outcome }, 'inbox item failed')
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
    pass = drain().catch(err => { log.warn({ err, source }, 'inbox pass failed'); return 0 })
    pass.then(claimed => {
      pass = undefined
      schedule(claimed === batch ? 0 : idleMs)
    }, () => {})
  }

  // A run that died mid-batch left its items leased; with the embedded store they can only be ours.
  pass = inbox.releaseLeases(source).then(() => 0, err => { log.warn({ err, source }, 'inbox leases not released'); return 0 })
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
