import { plainText } from '../core/plain-text.js'
import type { ConversationEvent } from '../store/conversations.js'

/** Conversation Routing moved a conversation to another app (`toAppId`): the Page Inbox, or this app again. */
export interface HandoverEvent { kind: 'handover', pageId: string, psid: string, toAppId: string, at: Date }

/** One Messenger webhook delivery, flattened to the events this service keeps. Pure: no I/O. */
export type MessengerEvent = ConversationEvent | HandoverEvent

interface Optin {
  type?: unknown
  payload?: unknown
  notification_messages_token?: unknown
  notification_messages_frequency?: unknown
  token_expiry_timestamp?: unknown
}

interface Messaging {
  sender?: { id?: unknown }
  recipient?: { id?: unknown }
  timestamp?: unknown
  message?: {
    mid?: unknown, text?: unknown, is_echo?: unknown, quick_reply?: { payload?: unknown }, attachments?: Array<{ type?: unknown }>
  }
  postback?: { mid?: unknown, title?: unknown, payload?: unknown }
  read?: { watermark?: unknown }
  optin?: Optin
  pass_thread_control?: { new_owner_app_id?: unknown }
  take_thread_control?: { previous_owner_app_id?: unknown }
}

const str = (value: unknown) => typeof value === 'string' && value !== '' ? value : undefined
const MAX_TEXT = 2000
// Meta caps payloads at 1,000 characters; a longer one is not Meta's.
const withPayload = (payload: string | undefined) => payload === undefined ? {} : { payload: payload.slice(0, 1000) }

/**
 * At most `max` UTF-16 units without cutting a surrogate pair, as plain text (no lone surrogate, no NUL): PostgreSQL
 * refuses those, and one customer's text must not fail a delivery that carries others' messages.
 */
export function storableText (text: string, max = MAX_TEXT): string {
  const whole = plainText(text, { keepLines: true })
  if (whole.length <= max) return whole
  const end = /[\uD800-\uDBFF]/.test(whole[max - 1]!) ? max - 1 : max
  return whole.slice(0, end)
}

function describe (message: NonNullable<Messaging['message']>): string {
  const text = str(message.text)
  if (text !== undefined) return storableText(text)
  const types = (Array.isArray(message.attachments) ? message.attachments : []).map(a => str(a?.type) ?? 'file')
  return types.length > 0 ? `[${types.join(', ')}]` : '[message]'
}

/** Events of every entry and messaging item; items this service does not understand are skipped. */
export function messengerEvents (delivery: unknown): MessengerEvent[] {
  const page = delivery as { object?: unknown, entry?: unknown } | null | undefined
  const entries = page?.object === 'page' ? page.entry : undefined
  if (!Array.isArray(entries)) return []
  const events: MessengerEvent[] = []
  for (const entry of entries) {
    const pageId = str(entry?.id)
    if (pageId === undefined) continue
    // Items on standby arrive while another app has the conversation: kept, marked so the bot never answers them.
    const items = [
      ...(Array.isArray(entry.messaging) ? entry.messaging as Messaging[] : []),
      ...(Array.isArray(entry.standby) ? (entry.standby as Messaging[]).map(item => ({ ...item, standby: true as const })) : [])
    ]
    for (const item of items as Array<Messaging & { standby?: true }>) {
      const sender = str(item?.sender?.id)
      const recipient = str(item?.recipient?.id)
      const at = new Date(typeof item?.timestamp === 'number' ? item.timestamp : Date.now())
      if (item.message !== undefined && str(item.message.mid) !== undefined) {
        const echo = item.message.is_echo === true
        const psid = echo ? recipient : sender
        if (psid === undefined) continue
        const mid = str(item.message.mid)!
        const text = describe(item.message)
        const payload = echo ? undefined : str(item.message.quick_reply?.payload)
        const direction = echo ? 'out' : 'in'
        const standby = item.standby === true ? { standby: true as const } : {}
        events.push({ kind: 'message', pageId, psid, mid, direction, text, at, fromCustomer: !echo, ...withPayload(payload), ...standby })
      } else if (item.postback !== undefined && sender !== undefined) {
        const mid = str(item.postback.mid) ?? `postback:${pageId}:${sender}:${at.getTime()}`
        const text = storableText(`[postback] ${str(item.postback.title) ?? str(item.postback.payload) ?? ''}`.trim())
        const payload = str(item.postback.payload)
        events.push({ kind: 'message', pageId, psid: sender, mid, direction: 'in', text, at, fromCustomer: true, ...withPayload(payload) })
      } else if (item.pass_thread_control !== undefined && sender !== undefined) {
        const toAppId = String(item.pass_thread_control.new_owner_app_id ?? '')
        if (toAppId !== '') events.push({ kind: 'handover', pageId, psid: sender, toAppId, at })
      } else if (item.read !== undefined && sender !== undefined) {
        events.push({ kind: 'read', pageId, psid: sender, key: `read:${pageId}:${sender}:${String(item.read.watermark)}`, at })
      } else if (item.optin !== undefined && sender !== undefined) {
        const token = item.optin.type === 'notification_messages' ? str(item.optin.notification_messages_token) : undefined
        const expiry = item.optin.token_expiry_timestamp
        events.push({
          kind: 'optin',
          pageId,
          psid: sender,
          key: `optin:${pageId}:${sender}:${at.getTime()}`,
          at,
          ...(token === undefined
            ? {}
            : {
                notificationToken: {
                  token,
                  frequency: str(item.optin.notification_messages_frequency) ?? '',
                  expiresAt: typeof expiry === 'number' ? new Date(expiry) : null
                }
              })
        })
      }
    }
  }
  return events
}

/** A delivery as deliveries of one messaging item each, in order; what cannot be split comes back whole. */
export function splitDelivery (body: string): string[] {
  const delivery = JSON.parse(body) as { object?: unknown, entry?: unknown }
  if (delivery?.object !== 'page' || !Array.isArray(delivery.entry)) return [body]
  return delivery.entry.flatMap((entry: { messaging?: unknown }) => Array.isArray(entry?.messaging)
    ? entry.messaging.map(item => JSON.stringify({ object: 'page', entry: [{ ...entry, messaging: [item] }] }))
    : [JSON.stringify({ object: 'page', entry: [entry] })])
}

export const isConversationEvent = (event: MessengerEvent): event is ConversationEvent => event.kind !== 'handover'
