import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { groupCommit } from '../core/group-commit.js'
import { startPollLoop } from '../core/poll-loop.js'
import type { SendApi, SendResult } from '../facebook/send-api.js'
import type { ClaimedMessage, OutboxStore } from '../store/outbox.js'
import { createPacer } from './pacer.js'
import { type Delivery, deliveryFor } from './policy.js'

// How long before a pass's last rate slot the next claim starts: about what a claim takes on a loaded store.
const CLAIM_AHEAD_MS = 100

export interface SenderOptions {
  outbox: OutboxStore
  send: SendApi
  /** gives the conversation to the Page Inbox; classified like a send */
  passThreadControl: (pageId: string, psid: string, metadata: string) => Promise<SendResult>
  /** joins sent messages to their conversations */
  recordSent: (sent: Array<{ row: ClaimedMessage, messageId: string, at: Date }>) => Promise<void>
  markNeedsReconnect: (pageId: string) => Promise<void>
  log: FastifyBaseLogger
  /** messages per second per Page */
  ratePerPage: number
  humanAgent: boolean
  /** the message as it goes to this customer (its links made theirs); as stored when absent */
  personalize?: (row: ClaimedMessage) => Record<string, unknown>
  batch?: number
  idleMs?: number
  leaseSeconds?: number
  /** how long this sender holds the Pages it sends for without renewing */
  pageLeaseSeconds?: number
  now?: () => number
}

/**
 * Sends what the outbox holds. Each row was claimed (sending, leased, committed) before its call, the policy is
 * decided again right before it, and Meta's answer decides the row: sent, retried, failed, or unknown when there was
 * no answer. Pages are sent for side by side, each at most `ratePerPage` messages a second.
 */
export function startSender (options: SenderOptions) {
  const { outbox, send, log, humanAgent, batch = 50, idleMs = 500, leaseSeconds = 60, pageLeaseSeconds = 10, now = Date.now } = options
  const senderId = randomUUID()
  const spacingMs = 1000 / options.ratePerPage
  // At most two seconds' worth of a Page per pass, so its lease is renewed long before it runs out.
  const perPage = Math.max(1, Math.ceil(options.ratePerPage * 2))
  const pacer = createPacer(spacingMs, now)
  // Written together with whatever else reached the same point meanwhile: at a Page's full rate these are the
  // sender's most frequent statements, and on the embedded store each costs the one thread about a millisecond.
  const calling = groupCommit<string>(ids => outbox.calling(ids))
  const sent = groupCommit<{ row: ClaimedMessage, messageId: string | null, decided: Exclude<Delivery, { skip: unknown }> | undefined }>(
    async items => {
      await outbox.sent(items.map(({ row, messageId, decided }) => ({
        id: row.id,
        messageId,
        messagingType: decided?.messagingType ?? null,
        tag: decided !== undefined && 'tag' in decided ? decided.tag : null
      })))
      const at = new Date(now())
      const messages = items.flatMap(({ row, messageId }) => messageId === null ? [] : [{ row, messageId, at }])
      if (messages.length > 0) await options.recordSent(messages)
    })
  const waitForSlot = (row: ClaimedMessage) => pacer.turn(row.pageId, row.source !== 'campaign')

  async function handOver (row: ClaimedMessage): Promise<SendResult> {
    await waitForSlot(row)
    await calling(row.id)
    const metadata = typeof row.message.metadata === 'string' ? row.message.metadata : ''
    return options.passThreadControl(row.pageId, row.psid, metadata)
  }

  async function deliver (row: ClaimedMessage): Promise<void> {
    if (row.action === 'pass_thread_control') return settle(row, await handOver(row), undefined)
    if (row.unreachable) return outbox.finish(row.id, 'skipped', 'unreachable')
    // A promotion goes only to someone who still wants them and whom no person is talking to, checked now.
    if (row.source === 'campaign' && row.optedOut) return outbox.finish(row.id, 'skipped', 'opted_out')
    if (row.source === 'campaign' && row.withHuman) return outbox.finish(row.id, 'skipped', 'with_human')
    const decided = deliveryFor(row.source, row.lastCustomerMessageAt, now(), humanAgent)
    if ('skip' in decided) return outbox.finish(row.id, 'skipped', decided.skip)
    await waitForSlot(row)
    await calling(row.id)
    const message = options.personalize?.(row) ?? row.message
    return settle(row, await send({ pageId: row.pageId, psid: row.psid, message, ...decided }), decided)
  }

  async function settle (row: ClaimedMessage, result: SendResult, decided: Exclude<Delivery, { skip: unknown }> | undefined) {
    switch (result.kind) {
      case 'sent':
        return sent({ row, messageId: decided === undefined ? null : result.messageId, decided })
      case 'retry':
        await outbox.retry(row.id, row.attempts, 'meta_retryable')
        return
      case 'failed':
        return outbox.finish(row.id, 'failed', result.reason)
      case 'unreachable':
        await outbox.markUnreachable(row.pageId, row.psid)
        return outbox.finish(row.id, 'failed', result.reason)
      case 'reconnect':
        await options.markNeedsReconnect(row.pageId)
        return outbox.putBack(row.id, 0)
      case 'pause':
        await outbox.pausePage(row.pageId, result.seconds)
        return outbox.putBack(row.id, result.seconds)
      case 'unknown':
        log.warn({ outboxId: row.id, pageId: row.pageId }, 'send got no answer: marked unknown, never sent again')
        return outbox.finish(row.id, 'unknown', result.reason)
    }
  }

  const inFlight = new Set<Promise<void>>()

  async function drain (): Promise<number> {
    await outbox.expireLeases()
    const rows = await outbox.claim(senderId, { limit: batch, perPage, leaseSeconds, pageLeaseSeconds })
    // Side by side: a claim holds at most one row per conversation, and each call waits for its Page's slot (taken
    // in claim order as the calls start), so a slow Graph answer holds back neither the Page's rate nor the others.
    for (const row of rows) {
      const delivery = deliver(row)
        .catch(err => log.warn({ err, outboxId: row.id }, 'outbox row not settled: its lease will make it unknown'))
        .finally(() => inFlight.delete(delivery))
      inFlight.add(delivery)
    }
    // The next claim is made while this one's last turns are still ahead, so a busy Page's rate has no gap between
    // passes, or at once when something is queued meanwhile (a reply then goes before the campaign rows waiting);
    // a conversation's next row waits in the store until the one in flight is settled.
    const ahead = Math.max(0, ...rows.map(row => pacer.aheadMs(row.pageId)))
    const wakeUp = new Promise<'woken'>(resolve => { interrupt = () => resolve('woken') })
    if (ahead > CLAIM_AHEAD_MS) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([wakeUp, new Promise(resolve => { timer = setTimeout(resolve, ahead - CLAIM_AHEAD_MS) })])
      clearTimeout(timer)
    }
    // Calls piling up (a slow Graph) hold the next claim back, unless something was queued meanwhile.
    while (inFlight.size > batch * 2) {
      if (await Promise.race([wakeUp, ...inFlight]) === 'woken') break
    }
    interrupt = undefined
    return rows.length
  }
  let interrupt: (() => void) | undefined

  const loop = startPollLoop({
    pass: async () => await drain() > 0,
    idleMs,
    onError: err => log.warn({ err }, 'outbox pass failed'),
    start: () => outbox.endDeadLeases()
  })

  return {
    /** Something was queued: send it now rather than at the next idle tick. */
    wake: () => { interrupt?.(); loop.wake() },
    async stop () {
      const stopping = loop.stop()
      interrupt?.()
      await stopping
      await Promise.all(inFlight)
      await outbox.releasePages(senderId)
        .catch(err => log.warn({ err }, 'Pages not released: another replica takes them when the lease ends'))
    }
  }
}
