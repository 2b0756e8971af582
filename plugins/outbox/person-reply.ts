import createError from '@fastify/error'
import type { Store } from '../store/index.js'
import type { Outbox } from './index.js'
import { deliveryFor } from './policy.js'

export const NoConversationError = createError('MSB_CONVERSATION_NOT_FOUND', 'This conversation does not exist on this Page.', 404)
const WindowClosedError = createError('MSB_WINDOW_CLOSED',
  "The customer's last message is too old to reply to: Messenger allows replies for 24 hours (7 days for a person, " +
  'with the human agent permission).', 409)
const UnreachableError = createError('MSB_UNREACHABLE', 'Messenger says this person cannot be reached any more.', 409)

/**
 * A person's reply to a customer of a Page of `workspace`, queued in the outbox: 404 when there is no such
 * conversation, 409 when Messenger would refuse it now (the sender decides again right before the call).
 */
export async function queuePersonReply (
  deps: { store: Store, outbox: Outbox, humanAgent: boolean },
  reply: { workspace: string, pageId: string, psid: string, text: string, requestId: string }
) {
  const { store, outbox, humanAgent } = deps
  const { workspace, pageId, psid } = reply
  const conversation = await store.pages.inWorkspace(workspace, pageId) ? await store.outbox.conversation(pageId, psid) : undefined
  if (conversation === undefined) throw new NoConversationError()
  if (conversation.unreachable) throw new UnreachableError()
  if ('skip' in deliveryFor('human', conversation.lastCustomerMessageAt, Date.now(), humanAgent)) throw new WindowClosedError()
  return outbox.enqueue({ dedupeKey: `human:${reply.requestId}`, pageId, psid, source: 'human', message: { text: reply.text } })
}
