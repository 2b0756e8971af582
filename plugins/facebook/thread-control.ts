import { Type } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { Store } from '../store/index.js'
import type { GraphClient } from './graph.js'

/** The Page Inbox's app id: where Conversation Routing passes a conversation for a person to answer. */
export const PAGE_INBOX_APP_ID = 263902037430900

const Success = Type.Object({ success: Type.Boolean() })

/** The body of `POST /{page-id}/pass_thread_control` that gives the conversation to the Page Inbox. */
export const toPageInbox = (psid: string, metadata: string) =>
  ({ recipient: { id: psid }, target_app_id: PAGE_INBOX_APP_ID, metadata: metadata.slice(0, 1000) })

/** Gives the conversation to the Page Inbox (a person answers there); the bot sends nothing until it is back. */
export async function passThreadControl (
  graph: GraphClient, token: string, pageId: string, psid: string, metadata: string
): Promise<boolean> {
  const answer = await graph.post(`/${pageId}/pass_thread_control`, { token, schema: Success, body: toPageInbox(psid, metadata) })
  return answer.success
}

/** Takes the conversation back for the bot (this app is the Page's primary receiver). */
export async function takeThreadControl (graph: GraphClient, token: string, pageId: string, psid: string): Promise<boolean> {
  const answer = await graph.post(`/${pageId}/take_thread_control`, { token, schema: Success, body: { recipient: { id: psid } } })
  return answer.success
}

/**
 * A person takes the conversation over (`toHuman`) or hands it back to the bot: the conversation's state is what the
 * bot obeys, and Conversation Routing's thread follows (a failure there is logged). False: no such conversation.
 */
export async function handOverConversation (
  graph: GraphClient, store: Store, log: FastifyBaseLogger,
  conversation: { workspace: string, pageId: string, psid: string, toHuman: boolean, note: string }
): Promise<boolean> {
  const { workspace, pageId, psid, toHuman } = conversation
  const found = await store.pages.inWorkspace(workspace, pageId) && await store.bot.setWithHuman(pageId, psid, toHuman)
  if (!found) return false
  const token = await store.pages.tokenOf(pageId)
  if (token !== undefined) {
    const move = toHuman ? passThreadControl(graph, token, pageId, psid, conversation.note) : takeThreadControl(graph, token, pageId, psid)
    await move.catch(err => log.warn({ err, pageId }, 'thread control not moved'))
  }
  log.info({ pageId, to: toHuman ? 'human' : 'bot' }, 'conversation handed over')
  return true
}
