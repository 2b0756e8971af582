/**
 * What a Send API refusal means for the message and for whoever sends next, in one table (Meta's error codes,
 * Messenger Platform docs, 2026). Meta's own error text is for the log only; a customer never sees it.
 */
export type SendOutcome =
  | { kind: 'retry' }
  | { kind: 'failed', reason: string }
  /** the person cannot be reached (blocked the Page, account gone): no more sends to the conversation */
  | { kind: 'unreachable', reason: string }
  /** the Page's token no longer works: the Page needs reconnecting and its sends wait */
  | { kind: 'reconnect', reason: string }
  /** the Page may not send for now (restricted): its sends pause, this message is retried after */
  | { kind: 'pause', reason: string, seconds: number }

const RETRYABLE = new Set([1, 2, 4, 17, 32, 613])
const RESTRICTED_PAUSE_SECONDS = 3600

/** `regainAccessSeconds`: Meta's estimate (X-Business-Use-Case-Usage) of how long the Page's calls stay throttled. */
export function classifySendError (
  status: number, code: number | undefined, subcode: number | undefined, regainAccessSeconds = 0
): SendOutcome {
  const outcome = classify(status, code, subcode)
  // Retrying before Meta lets the business call again only spends attempts: the Page waits instead.
  if (outcome.kind === 'retry' && regainAccessSeconds > 0) return { kind: 'pause', reason: 'rate_limited', seconds: regainAccessSeconds }
  return outcome
}

function classify (status: number, code: number | undefined, subcode: number | undefined): SendOutcome {
  if (code !== undefined && RETRYABLE.has(code)) return { kind: 'retry' }
  if (code === 10 && subcode === 2018278) return { kind: 'failed', reason: 'window_closed' }
  if (code === 551 || (code === 200 && subcode === 1545041)) return { kind: 'unreachable', reason: 'unreachable' }
  if (code === 190) return { kind: 'reconnect', reason: 'page_token_invalid' }
  if (code === 10 && subcode === 1893063) return { kind: 'pause', reason: 'page_restricted', seconds: RESTRICTED_PAUSE_SECONDS }
  if (status >= 500) return { kind: 'retry' }
  return { kind: 'failed', reason: code === undefined ? `refused_${status}` : `meta_error_${code}` }
}
