import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { GraphBadAnswerError, GraphError, type GraphClient } from './graph.js'
import { classifySendError, type SendOutcome } from './send-errors.js'
import { toPageInbox } from './thread-control.js'

const Sent = Type.Object({ message_id: Type.String({ minLength: 1 }) })
const Success = Type.Object({ success: Type.Literal(true) })

export interface SendRequest {
  pageId: string
  psid: string
  messagingType: 'RESPONSE' | 'UPDATE' | 'MESSAGE_TAG'
  tag?: 'HUMAN_AGENT'
  /** the Send API's `message` object: text, attachment, quick replies */
  message: Record<string, unknown>
}

export type SendResult = { kind: 'sent', messageId: string } | SendOutcome | { kind: 'unknown', reason: string }

// Failures from before the request left this process: Meta cannot have seen it, so it may be sent again.
const NEVER_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

function neverLeft (err: unknown): boolean {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    if (NEVER_SENT.has(String((cause as { code?: unknown }).code))) return true
  }
  return false
}

/**
 * The Page's calls that reach a customer, as results the outbox can act on: sent (with Meta's message id); what
 * Meta's refusal means (send-errors.ts); or unknown when there was no answer after the request may have reached Meta
 * (a timeout, a connection lost mid-call): such a message is never sent again automatically. Each carries the Page
 * token and its appsecret_proof.
 */
export function createSendApi (graph: GraphClient, pageToken: (pageId: string) => Promise<string | undefined>) {
  async function call<T extends TSchema> (pageId: string, path: string, body: Record<string, unknown>, schema: T, signal?: AbortSignal):
  Promise<{ kind: 'answered', answer: Static<T> } | Exclude<SendResult, { kind: 'sent' }>> {
    const token = await pageToken(pageId)
    if (token === undefined) return { kind: 'reconnect', reason: 'page_token_missing' }
    try {
      const answer = await graph.post(`/${pageId}${path}`, { token, body, schema, ...(signal === undefined ? {} : { signal }) })
      return { kind: 'answered', answer }
    } catch (err) {
      if (err instanceof GraphError) return classifySendError(err.status, err.code, err.subcode, err.regainAccessSeconds)
      if (err instanceof GraphBadAnswerError || neverLeft(err)) return { kind: 'retry' }
      return { kind: 'unknown', reason: 'no_answer' }
    }
  }

  /** `POST /{page-id}/messages` */
  async function send (request: SendRequest): Promise<SendResult> {
    const body = {
      recipient: { id: request.psid },
      messaging_type: request.messagingType,
      ...(request.tag === undefined ? {} : { tag: request.tag }),
      message: request.message
    }
    const result = await call(request.pageId, '/messages', body, Sent)
    return result.kind === 'answered' ? { kind: 'sent', messageId: result.answer.message_id } : result
  }

  /** `POST /{page-id}/pass_thread_control` to the Page Inbox, where a person answers. */
  async function passThreadControl (pageId: string, psid: string, metadata: string): Promise<SendResult> {
    const result = await call(pageId, '/pass_thread_control', toPageInbox(psid, metadata), Success)
    return result.kind === 'answered' ? { kind: 'sent', messageId: '' } : result
  }

  /** `mark_seen` or `typing_on`, in its own request (Meta takes a sender action alone); true when Meta took it. */
  async function senderAction (pageId: string, psid: string, action: 'mark_seen' | 'typing_on', signal: AbortSignal): Promise<boolean> {
    const result = await call(pageId, '/messages', { recipient: { id: psid }, sender_action: action }, Type.Object({}), signal)
    return result.kind === 'answered'
  }

  return Object.assign(send, { passThreadControl, senderAction })
}

export type SendApi = (request: SendRequest) => Promise<SendResult>
export type PageMessenger = ReturnType<typeof createSendApi>
