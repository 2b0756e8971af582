import { Type } from '@sinclair/typebox'
import { Agent, type Dispatcher } from 'undici'
import { callUpstream, checkerFor, type UpstreamFailures } from '../core/http-json.js'

const MAX_ANSWER_BYTES = 1024 * 1024

/**
 * Why a model's turn did not give an answer the bot can use; `reason` is what the log says (never the key, never
 * what the customer wrote). Retryable: the server may answer the same request next time.
 */
export class LlmError extends Error {
  override name = 'LlmError'
  constructor (readonly reason: string, readonly retryable = false, options?: ErrorOptions) {
    super(`the model's server: ${reason}`, options)
  }
}

const failures: UpstreamFailures = {
  timedOut: (_message, cause) => new LlmError('timeout', false, { cause }),
  unavailable: (_message, cause) => new LlmError('unreachable', true, { cause })
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  content: string | null
  tool_calls?: ToolCall[]
  tool_call_id?: string
}

export interface ToolCall { id: string, type: 'function', function: { name: string, arguments: string } }

const Completion = Type.Object({
  choices: Type.Array(Type.Object({
    message: Type.Object({
      content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      refusal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      tool_calls: Type.Optional(Type.Union([Type.Null(), Type.Array(Type.Object({
        id: Type.String(),
        type: Type.Optional(Type.String()),
        function: Type.Object({ name: Type.String(), arguments: Type.String() })
      }))]))
    })
  }), { minItems: 1 }),
  usage: Type.Optional(Type.Object({
    prompt_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
    completion_tokens: Type.Optional(Type.Integer({ minimum: 0 }))
  }))
})

export interface Completed {
  content: string | null
  refusal: string | null
  toolCalls: ToolCall[]
  usage: { promptTokens: number, completionTokens: number }
}

export interface ChatRequest {
  messages: ChatMessage[]
  tools: Array<Record<string, unknown>>
  responseFormat: Record<string, unknown>
}

export interface ChatOptions {
  baseUrl: string
  apiKey: string
  model: string
  dispatcher?: Dispatcher
}

/**
 * `POST {baseUrl}/chat/completions` on any OpenAI-compatible server (OpenAI, Azure OpenAI, Ollama, vLLM,
 * llama.cpp), through undici like every other upstream: the caller's deadline bounds it, the answer's size is
 * capped, and the answer is checked before anything reads it.
 */
export function createChatClient (options: ChatOptions) {
  const owned = options.dispatcher === undefined
  const dispatcher = options.dispatcher ?? new Agent({ connections: 64, keepAliveTimeout: 30_000 })
  const url = `${options.baseUrl}/chat/completions`
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (options.apiKey !== '') headers.authorization = `Bearer ${options.apiKey}`
  const check = checkerFor(Completion)

  async function complete (request: ChatRequest, deadline: AbortSignal, timeoutMs: number): Promise<Completed> {
    const body = JSON.stringify({
      model: options.model,
      messages: request.messages,
      tools: request.tools,
      tool_choice: 'auto',
      response_format: request.responseFormat,
      temperature: 0.3
    })
    const answer = await callUpstream(url, {
      method: 'POST', dispatcher, timeoutMs, maxBytes: MAX_ANSWER_BYTES, failures, name: 'chat completions', headers, body, deadline
    })
    if (answer.status === 429 || answer.status >= 500) throw new LlmError(`status_${answer.status}`, true)
    if (answer.status >= 400) throw new LlmError(`status_${answer.status}`)
    if (!check.Check(answer.json)) throw new LlmError('bad_answer')
    const { choices, usage } = answer.json as (typeof Completion)['static']
    const message = choices[0]!.message
    return {
      content: message.content ?? null,
      refusal: message.refusal ?? null,
      toolCalls: (message.tool_calls ?? []).map(call => ({ id: call.id, type: 'function', function: call.function })),
      usage: { promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0 }
    }
  }

  return {
    complete,
    async close () { if (owned) await dispatcher.close() }
  }
}

export type ChatClient = ReturnType<typeof createChatClient>
