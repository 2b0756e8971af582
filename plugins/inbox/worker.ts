import type { FastifyBaseLogger } from 'fastify'
import { startPollLoop } from '../core/poll-loop.js'
import { StoreUnavailableError } from '../store/db.js'
import { type InboxItem, type InboxStore, LEASE_SECONDS } from '../store/inbox.js'

/**
 * Works one source's inbox after the webhook has answered. A delivery this process stores is written already
 * claimed and kept in memory, so the worker applies it without reading it back; the inbox is read for the
 * rest (retries, a dead worker's items, overflow). Failures are retried with backoff and parked after the last
 * attempt. A batch that fails is applied again item by item, so only the bad item is retried, and an item that
 * fails is split into its events where it has several, so only the bad event is retried. `stop` waits for
 * the current pass and gives back what it still held.
 */
export function startInboxWorker (options: {
  inbox: InboxStore
  source: string
  log: FastifyBaseLogger
  apply: (items: InboxItem[]) => Promise<void>
  /** an item's body as parts of one event each; an item that fails with more than one part is replaced by them */
  split?: (body: string) => string[]
  idleMs?: number
  batch?: number
  /** deliveries held in memory at most; past it they are stored unclaimed and read back later */
  holdMax?: number
  /** items between two vacuums of the inbox (a no-op where the database vacuums by itself) */
  vacuumEvery?: number
}) {
  const { inbox, source, log, apply, split, idleMs = 500, batch = 50, holdMax = 2000, vacuumEvery = 10_000 } = options
  const held: InboxItem[] = []
  let sinceVacuum = 0

  async function drain (): Promise<number> {
    const items = held.length > 0 ? held.splice(0, batch) : await inbox.claim(source, batch)
    if (items.length === 0) return 0
    try {
      await apply(items)
    } catch {
      for (const item of items) {
        try {
          await apply([item])
        } catch (err) {
          const parts = split?.(item.body) ?? []
          if (parts.length > 1) {
            await inbox.split(source, item.id, parts)
            log.warn({ err, source, inboxId: item.id, parts: parts.length }, 'inbox item failed: split into its events')
            continue
          }
          const outcome = await inbox.fail(item.id, item.attempts, (err as Error).message)
          log.warn({ err, source, inboxId: item.id, attempts: item.attempts, outcome }, 'inbox item failed')
        }
      }
    }
    sinceVacuum += items.length
    if (sinceVacuum >= vacuumEvery) {
      sinceVacuum = 0
      await inbox.vacuum()
    }
    return items.length
  }

  // A run that died mid-batch left its items leased; with the embedded store they can only be ours.
  const loop = startPollLoop({
    pass: async () => { const claimed = await drain(); return held.length > 0 || claimed === batch },
    idleMs,
    onError: err => log.warn({ err, source }, 'inbox pass failed'),
    start: () => inbox.releaseLeases(source)
  })
  return {
    /**
     * Stores a verified delivery before the webhook answers; if the write fails that answer is 503, so the
     * sender delivers it again. Resolves with the inbox id once the row is committed.
     */
    async store (body: string): Promise<string> {
      const hold = loop.running && held.length < holdMax
      let id: string
      try {
        id = await inbox.add(source, body, hold ? LEASE_SECONDS : 0)
      } catch (err) {
        throw new StoreUnavailableError('the inbox was not written', { cause: err })
      }
      if (hold) held.push({ id, body, attempts: 1 })
      loop.wake()
      return id
    },
    async stop () {
      await loop.stop()
      const unprocessed = held.splice(0).map(item => item.id)
      if (unprocessed.length > 0) await inbox.release(unprocessed).catch(err => log.warn({ err, source }, 'inbox items not given back'))
    }
  }
}
