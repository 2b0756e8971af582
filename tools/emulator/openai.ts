import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** A chat completions request as the emulator received it. */
export interface ChatRequestRecord {
  headers: Record<string, string | string[] | undefined>
  body: {
    model?: string
    messages?: Array<{
      role: string
      content: string | null
      tool_calls?: Array<{ id: string, function: { name: string, arguments: string } }>
      tool_call_id?: string
    }>
    tools?: Array<{ type: string, function: { name: string } }>
    response_format?: { type?: string }
  }
}

/** What the scripted model does with one request. */
export type ScriptedReply =
  | { toolCalls: Array<{ name: string, arguments: Record<string, unknown> | string }> }
  | { content: string }
  | { refusal: string }
  | { status: number, body?: unknown }
  /** an answer that is not JSON at all */
  | { raw: string }
  /** no answer for this long (a hanging server) */
  | { hangMs: number }

export type Script = (request: ChatRequestRecord['body'], index: number) => ScriptedReply

/**
 * The demo's model, played by rules: it searches the catalog for the customer's last words (a price ceiling it
 * reads as maxPrice), then recommends up to three of the products the search returned; "human" hands over.
 */
export const demoScript: Script = request => {
  const messages = request.messages ?? []
  const last = messages.at(-1)
  if (last?.role === 'tool') {
    const found = JSON.parse(last.content ?? '[]') as Array<{ id: string, title: string }>
    if (found.length === 0) return { content: JSON.stringify({ text: "I couldn't find that in the shop. Could you tell me a bit more about what you need?", productIds: [] }) }
    const picks = found.slice(0, 3)
    return { content: JSON.stringify({ text: `Good news! ${picks[0]!.title} could be just right for you. Have a look:`, productIds: picks.map(product => product.id) }) }
  }
  const words = String(last?.content ?? '')
  if (/\b(human|person|agent)\b/i.test(words)) return { toolCalls: [{ name: 'handover_to_human', arguments: { reason: 'the customer asked for a person' } }] }
  const ceiling = /\b(?:under|below|less than|max|up to)\s*[$€£]?\s*(\d+(?:\.\d+)?)/i.exec(words)
  return { toolCalls: [{ name: 'search_products', arguments: { query: words.replace(ceiling?.[0] ?? '', ' ').trim(), maxPrice: ceiling === null ? null : Number(ceiling[1]), minPrice: null } }] }
}

/**
 * An OpenAI-compatible chat completions server for the tests and the demo: `POST {url}/chat/completions` answers
 * from a script (tool calls, a JSON answer, a refusal, an error, garbage, a hang) with a usage count, and records
 * every request (headers included) so tests can check what reached the model.
 */
export async function startOpenAiEmulator (
  options: {
    apiKey?: string,
    script?: Script,
    host?: string,
    port?: number
    /** every answer waits this long, as a model thinks */
    latencyMs?: number
  } = {}
) {
  let script = options.script ?? demoScript
  const requests: ChatRequestRecord[] = []
  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))

  async function handle (req: IncomingMessage, res: ServerResponse) {
    if (req.method !== 'POST' || !/\/chat\/completions$/.test(new URL(req.url ?? '/', 'http://emulator').pathname)) {
      return json(res, 404, { error: { message: 'Unknown path', type: 'invalid_request_error' } })
    }
    let text = ''
    for await (const chunk of req) text += chunk
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } })
    }
    let body: ChatRequestRecord['body']
    try {
      body = JSON.parse(text) as ChatRequestRecord['body']
    } catch {
      return json(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' } })
    }
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      return json(res, 400, { error: { message: 'model and messages are required', type: 'invalid_request_error' } })
    }
    requests.push({ headers: req.headers, body })
    const reply = script(body, requests.length - 1)
    if (options.latencyMs !== undefined) await sleep(options.latencyMs, undefined, { ref: false })
    const usage = { prompt_tokens: Math.ceil(text.length / 4), completion_tokens: 20, total_tokens: Math.ceil(text.length / 4) + 20 }
    const completion = (message: Record<string, unknown>, finish: string) => json(res, 200, {
      id: `chatcmpl-${randomBytes(8).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason: finish }],
      usage
    })
    if ('hangMs' in reply) {
      await sleep(reply.hangMs, undefined, { ref: false })
      if (!res.destroyed) completion({ content: JSON.stringify({ text: 'too late', productIds: [] }) }, 'stop')
      return
    }
    if ('status' in reply) return json(res, reply.status, reply.body ?? { error: { message: 'The server had an error', type: 'server_error' } })
    if ('raw' in reply) return res.writeHead(200, { 'content-type': 'application/json' }).end(reply.raw)
    if ('refusal' in reply) return completion({ refusal: reply.refusal }, 'stop')
    if ('content' in reply) return completion({ content: reply.content }, 'stop')
    completion({
      tool_calls: reply.toolCalls.map(call => ({
        id: `call_${randomBytes(6).toString('hex')}`,
        type: 'function',
        function: { name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments) }
      }))
    }, 'tool_calls')
  }

  const server = createServer((req, res) => { handle(req, res).catch(() => res.writeHead(500).end()) })
  await new Promise<void>(resolve => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  const url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}/v1`
  return {
    /** the base URL to give LLM_BASE_URL */
    url,
    requests,
    setScript (next: Script) { script = next },
    close: () => new Promise<void>(resolve => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

export type OpenAiEmulator = Awaited<ReturnType<typeof startOpenAiEmulator>>
