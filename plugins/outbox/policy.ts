/**
 * Meta's 2026 messaging policy, by construction: every message the service sends is decided here, when it is
 * queued and again right before its call. Inside the 24-hour standard window after the customer's last message:
 * RESPONSE (a campaign: UPDATE). Outside it only a person may write, up to 7 days, with the HUMAN_AGENT tag and only
 * when the app has that permission. No other tag exists in this code.
 */
export type Source = 'bot' | 'human' | 'campaign'

export type Delivery =
  | { messagingType: 'RESPONSE' | 'UPDATE' }
  | { messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }
  | { skip: 'window_closed' | 'no_customer_message' }

const HOUR_MS = 3_600_000
export const STANDARD_WINDOW_MS = 24 * HOUR_MS
export const HUMAN_AGENT_WINDOW_MS = 7 * 24 * HOUR_MS

export function deliveryFor (source: Source, lastCustomerMessageAt: Date | null, now: number, humanAgent: boolean): Delivery {
  if (lastCustomerMessageAt === null) return { skip: 'no_customer_message' }
  const since = now - lastCustomerMessageAt.getTime()
  if (since < STANDARD_WINDOW_MS) return { messagingType: source === 'campaign' ? 'UPDATE' : 'RESPONSE' }
  if (source === 'human' && humanAgent && since < HUMAN_AGENT_WINDOW_MS) return { messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }
  return { skip: 'window_closed' }
}
