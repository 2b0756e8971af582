import { createHmac } from 'node:crypto'
import type { TSchema, Static } from '@sinclair/typebox'
import fp from 'fastify-plugin'
import { type Dispatcher, Pool } from 'undici'
import { callUpstream, checkerFor, type UpstreamFailures } from '../core/http-json.js'

const MAX_RESPONSE_BYTES = 1024 * 1024

/** Graph answered with its error object; message and fields are Meta's, kept for logs, never sent to clients. */
export class GraphError extends Error {
  override name = 'GraphError'
  constructor (
    readonly status: number,
    readonly code: number | undefined,
    readonly subcode: number | undefined,
    readonly type: string | undefined,
    readonly fbtraceId: string | undefined,
    message: string,
    /** from X-Business-Use-Case-Usage: how long Meta says this business's calls stay throttled */
    readonly regainAccessSeconds = 0
  ) {
    super(message)
  }
}

/** Graph could not be reached, failed, or answered something we cannot use. */
export class GraphUnavailableError extends Error {
  override name = 'GraphUnavailableError'
}

/** Graph answered, but not with anything we can use (no JSON, a 5xx without an error object, missing fields). */
export class GraphBadAnswerError extends GraphUnavailableError {
  override name = 'GraphBadAnswerError'
}

/** The call's own timeout or the caller's deadline passed. */
export class GraphTimeoutError extends Error {
  override name = 'GraphTimeoutError'
}

const failures: UpstreamFailures = {
  timedOut: (message, cause) => new GraphTimeoutError(message, { cause }),
  unavailable: (message, cause) => new GraphUnavailableError(message, { cause })
}

export interface GraphCall<T extends TSchema> {
  params?: Record<string, string>
  /** a user or Page access token: sent with its appsecret_proof */
  token?: string
  /** sent as JSON (the Send API's shape); without it the call carries only its query */
  body?: Record<string, unknown>
  schema: T
  signal?: AbortSignal
}

export interface GraphOptions {
  baseUrl: string
  version: string
  appSecret: string
  timeoutMs: number
  dispatcher?: Dispatcher
}

/**
 * Seconds until Meta lets this business call again, from X-Business-Use-Case-Usage (`{"<id>": [{"type": ...,
 * "estimated_time_to_regain_access": minutes}]}`); 0 when the header is absent or says nothing usable.
 */
export function regainAccessSeconds (header: string | string[] | undefined): number {
  if (typeof header !== 'string') return 0
  let usage: unknown
  try { usage = JSON.parse(header) } catch { return 0 }
  if (typeof usage !== 'object' || usage === null) return 0
  let minutes = 0
  for (const entries of Object.values(usage)) {
    if (!Array.isArray(entries)) continue
    for (const entry of entries) {
      const value = (entry as { estimated_time_to_regain_access?: unknown } | null)?.estimated_time_to_regain_access
      if (typeof value === 'number' && Number.isFinite(value) && value > minutes) minutes = value
    }
  }
  return Math.min(minutes, 24 * 60) * 60
}

function graphErrorFrom (status: number, parsed: unknown, usageHeader: string | string[] | undefined): GraphError | undefined {
  const error = (parsed as { error?: Record<string, unknown> } | null)?.error
  if (typeof error !== 'object' || error === null) return undefined
  const num = (value: unknown) => typeof value === 'number' ? value : undefined
  const str = (value: unknown) => typeof value === 'string' ? value : undefined
  return new GraphError(status, num(error.code), num(error.error_subcode), str(error.type), str(error.fbtrace_id),
    str(error.message) ?? 'Graph error', regainAccessSeconds(usageHeader))
}

export function createGraphClient (options: GraphOptions) {
  const ownsDispatcher = options.dispatcher === undefined
  const dispatcher = options.dispatcher ?? new Pool(options.baseUrl, {
    connections: 128,
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: options.timeoutMs }
  })
  const prefix = `${options.baseUrl}/${options.version}`

  const appSecretProof = (token: string) => createHmac('sha256', options.appSecret).update(token).digest('hex')

  async function send<T extends TSchema> (method: 'GET' | 'POST' | 'DELETE', path: string, call: GraphCall<T>): Promise<Static<T>> {
    const query = new URLSearchParams(call.params)
    if (call.token !== undefined) {
      query.set('access_token', call.token)
      query.set('appsecret_proof', appSecretProof(call.token))
    }
    const { status, json, headers } = await callUpstream(`${prefix}${path}?${query}`, {
      method,
      dispatcher,
      timeoutMs: options.timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      failures,
      name: `Graph ${path}`,
      deadline: call.signal,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body), headers: { 'content-type': 'application/json' } })
    })
    if (json === undefined) throw new GraphBadAnswerError(`Graph answered ${status} with a body that is not JSON`)
    const usage = headers['x-business-use-case-usage']
    if (status >= 500) throw graphErrorFrom(status, json, usage) ?? new GraphBadAnswerError(`Graph answered ${status}`)
    if (status >= 400) {
      throw graphErrorFrom(status, json, usage) ?? new GraphBadAnswerError(`Graph answered ${status} without an error object`)
    }
    if (!checkerFor(call.schema).Check(json)) throw new GraphBadAnswerError(`Graph answer to ${path} lacks expected fields`)
    return json as Static<T>
  }

  async function close () {
    if (ownsDispatcher) await dispatcher.close()
  }

  return {
    get: <T extends TSchema>(path: string, call: GraphCall<T>) => send('GET', path, call),
    post: <T extends TSchema>(path: string, call: GraphCall<T>) => send('POST', path, call),
    delete: <T extends TSchema>(path: string, call: GraphCall<T>) => send('DELETE', path, call),
    close
  }
}

export type GraphClient = ReturnType<typeof createGraphClient>

declare module 'fastify' {
  interface FastifyInstance {
    graph: GraphClient
  }
}

export default fp<{ dispatcher?: Dispatcher }>(async (fastify, { dispatcher }) => {
  const { config } = fastify
  const graph = createGraphClient({
    baseUrl: config.FACEBOOK_GRAPH_URL,
    version: config.GRAPH_API_VERSION,
    appSecret: config.FACEBOOK_APP_SECRET,
    timeoutMs: config.GRAPH_TIMEOUT_MS,
    ...(dispatcher === undefined ? {} : { dispatcher })
  })
  fastify.decorate('graph', graph)
  fastify.addHook('onClose', graph.close)
}, { name: 'graph', dependencies: ['config'], fastify: '5.x' })
