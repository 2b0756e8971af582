import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { type Dispatcher, errors as undiciErrors, request } from 'undici'

/** Shared by the upstream clients (Graph, Shopify): capped bodies, compiled answer schemas, timeout detection. */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError'
}

export async function readCapped (body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > maxBytes) {
      body.destroy()
      throw new ResponseTooLargeError(`the response exceeds ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()
export function checkerFor (schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema)
  if (check === undefined) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  return check
}

/** The call's own timeout or the caller's deadline passed, or undici gave up waiting. */
export const isTimeout = (err: unknown, signal: AbortSignal) => signal.aborted || err instanceof undiciErrors.HeadersTimeoutError ||
  err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError

export interface UpstreamAnswer {
  status: number
  headers: Dispatcher.ResponseData['headers']
  /** the body parsed as JSON; undefined when it is not JSON */
  json: unknown
  text: string
}

/** How a client names its failures: each upstream keeps its own error classes. */
export interface UpstreamFailures {
  timedOut (message: string, cause: unknown): Error
  unavailable (message: string, cause?: unknown): Error
}

/**
 * One call to an upstream: its own timeout joined to the caller's deadline, the answer's size capped, the body
 * read as JSON when it is JSON. Status handling and schema checks stay with the client that knows the API.
 */
export async function callUpstream (url: string, options: {
  method: 'GET' | 'POST' | 'DELETE'
  dispatcher: Dispatcher
  timeoutMs: number
  maxBytes: number
  failures: UpstreamFailures
  /** what the call is, for messages (never a URL with its query: it may hold a token) */
  name: string
  headers?: Record<string, string>
  body?: string
  deadline?: AbortSignal | undefined
}): Promise<UpstreamAnswer> {
  const { timeoutMs, failures, name } = options
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.deadline === undefined ? timeout : AbortSignal.any([timeout, options.deadline])
  let answer: Omit<UpstreamAnswer, 'json'>
  try {
    const response = await request(url, {
      method: options.method,
      dispatcher: options.dispatcher,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { accept: 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: options.body })
    })
    answer = { status: response.statusCode, headers: response.headers, text: await readCapped(response.body, options.maxBytes) }
  } catch (err) {
    if (isTimeout(err, signal)) throw failures.timedOut(`${name} timed out`, err)
    if (err instanceof ResponseTooLargeError) throw failures.unavailable(`${name}: the answer exceeds the size cap`, err)
    throw failures.unavailable(`${name}: unreachable`, err)
  }
  let json: unknown
  try {
    json = JSON.parse(answer.text)
  } catch {
    json = undefined
  }
  return { ...answer, json }
}
