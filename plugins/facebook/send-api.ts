import { Type } from '@sinclair/typebox'
import { GraphBadAnswerError, GraphError, type GraphClient } from './graph.js'
import { classifySendError, type SendOutcome } from './send-errors.js'

const Sent = Type.Object({ message_id: Type.String({ minLength: 1 }) })

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
 * `POST /{page-id}/messages` with the Page token and appsecret_proof, as a result the outbox can act on: sent with
 * Meta's message id; what Meta's refusal means (send-errors.ts); or unknown when there was no answer after the request
 * may have reached Meta (a timeout, a connection lost mid-call): such a message is never sent again automatically.
 */
export function createSendApi (graph: GraphClient, pageToken: (pageId: string) => Promise<string | undefined>) {
  return async function send (request: SendRequest): Promise<SendResult> {
    const token = await pageToken(request.pageId)
    if (token === undefined) return { kind: 'reconnect', reason: 'page_token_missing' }
    const body = {
      recipient: { id: request.psid },
      messaging_type: request.messagingType,
      ...(request.tag === undefined ? {} : { tag: request.tag }),
      message: request.message
    }
    try {
      const answer = await graph.post(`/${request.pageId}/messages`, { token, body, schema: Sent })
      return { kind: 'sent', messageId: answer.message_id }
    } catch (err) {
      if (err instanceof GraphError) return classifySendError(err.status, err.code, err.subcode, err.regainAccessSeconds)
      if (err instanceof GraphBadAnswerError || neverLeft(err)) return { kind: 'retry' }
      return { kind: 'unknown', reason: 'no_answer' }
    }
  }
}

export type SendApi = ReturnType<typeof createSendApi>
