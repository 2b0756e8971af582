import { Type } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { Store } from '../store/index.js'
import { GraphError, type GraphClient } from './graph.js'

// messaging_handovers and standby: Conversation Routing tells the bot when a person has a conversation or gives it back.
export const SUBSCRIBED_FIELDS = 'messages,messaging_postbacks,message_reads,messaging_optins,messaging_handovers,standby'
const Success = Type.Object({ success: Type.Boolean() })
const CONCURRENCY = 4

/**
 * Subscribes each Page to the app's webhook with its own token, a few at a time, and records the outcome; a
 * failure for one Page does not stop the others, and a refused token (190) marks the Page needs_reconnect.
 */
export async function subscribePages (graph: GraphClient, store: Store, log: FastifyBaseLogger,
  pages: Array<{ id: string, accessToken: string }>, signal?: AbortSignal): Promise<Map<string, boolean>> {
  const outcome = new Map<string, boolean>()
  const queue = [...pages]
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
    for (let page = queue.shift(); page !== undefined; page = queue.shift()) {
      let subscribed = false
      try {
        const answer = await graph.post(`/${page.id}/subscribed_apps`, {
          params: { subscribed_fields: SUBSCRIBED_FIELDS },
          token: page.accessToken,
          schema: Success,
          ...(signal === undefined ? {} : { signal })
        })
        subscribed = answer.success
      } catch (err) {
        log.warn({ err, pageId: page.id }, 'subscribing the Page to the webhook failed')
        if (err instanceof GraphError && err.code === 190) await store.pages.markNeedsReconnect(page.id)
      }
      if (subscribed) await store.pages.setSubscribed(page.id, true, SUBSCRIBED_FIELDS)
      outcome.set(page.id, subscribed)
    }
  }))
  return outcome
}

/**
 * Once per change of SUBSCRIBED_FIELDS: the Pages subscribed with older fields are subscribed again with the current
 * ones (messaging_handovers and standby came with Conversation Routing). A Page that fails is tried at the next start.
 */
export async function resubscribeOutdated (graph: GraphClient, store: Store, log: FastifyBaseLogger): Promise<void> {
  const pageIds = await store.pages.claimOutdatedSubscriptions(SUBSCRIBED_FIELDS)
  if (pageIds.length === 0) return
  const pages: Array<{ id: string, accessToken: string }> = []
  for (const id of pageIds) {
    // A token that cannot be opened (its key was retired) counts as a failure for this Page, not for the others.
    const accessToken = await store.pages.tokenOf(id).catch((err: unknown) => { log.warn({ err, pageId: id }, 'Page token not opened') })
    if (accessToken !== undefined) pages.push({ id, accessToken })
  }
  const outcome = await subscribePages(graph, store, log, pages)
  const failed = pageIds.filter(id => outcome.get(id) !== true)
  if (failed.length > 0) await store.pages.forgetSubscribedFields(failed)
  log.info({ pages: pageIds.length, failed: failed.length }, 'Pages subscribed again with the current webhook fields')
}

/** Best effort before a Page is removed: a failure is logged and the removal goes on. */
export async function unsubscribePage (graph: GraphClient, log: FastifyBaseLogger, pageId: string, token: string): Promise<void> {
  try {
    await graph.delete(`/${pageId}/subscribed_apps`, { token, schema: Success })
  } catch (err) {
    log.warn({ err, pageId }, 'unsubscribing the Page from the webhook failed')
  }
}
