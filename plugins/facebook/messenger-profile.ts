import { Type } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import { truncate } from '../core/plain-text.js'
import type { Store } from '../store/index.js'
import type { GraphClient } from './graph.js'

/** The postback Messenger sends when a person taps "Get Started" on the Page's welcome screen. */
export const GET_STARTED = 'GET_STARTED'
const GREETING_MAX = 160
const Result = Type.Object({ result: Type.String() })

/** The welcome screen's greeting: the bot's own when the owner wrote one, else one naming the shop. */
export function welcomeGreeting (greeting: string | null, shop: string | null): string {
  const text = greeting ?? `Welcome${shop === null ? '' : ` to ${shop}`}! Ask us about our products and we'll show you what we have.`
  return truncate(text, GREETING_MAX)
}

/**
 * Sets the Messenger Profile (the Get Started button and the greeting) of the workspace's Pages that can message,
 * with each Page's token. Best effort: a failure is logged, and the Page's next change (a connection, the bot's
 * settings) tries again. Returns the Pages whose profile was set.
 */
export async function updateMessengerProfiles (
  graph: GraphClient, store: Store, log: FastifyBaseLogger, workspace: string, pageIds?: string[]
): Promise<string[]> {
  const [settings, shop, pages] = await Promise.all([
    store.bot.settings(workspace), store.shops.nameOf(workspace), store.pages.list(workspace)
  ])
  const text = welcomeGreeting(settings?.greeting ?? null, shop ?? null)
  const body = { get_started: { payload: GET_STARTED }, greeting: [{ locale: 'default', text }] }
  const done: string[] = []
  for (const page of pages) {
    if (!page.canMessage || page.status !== 'connected' || (pageIds !== undefined && !pageIds.includes(page.id))) continue
    try {
      const token = await store.pages.tokenOf(page.id)
      if (token === undefined) continue
      await graph.post('/me/messenger_profile', { token, body, schema: Result })
      done.push(page.id)
    } catch (err) {
      log.warn({ err, pageId: page.id }, 'Messenger Profile not set: tried again with the Page\'s next change')
    }
  }
  return done
}
