import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Agent, type Dispatcher, request } from 'undici'
import type { Config } from '../core/config.js'
import { checkerFor, isTimeout, readCapped, ResponseTooLargeError } from '../core/http-json.js'
import { RefreshRefusedError, type ShopTokens } from '../store/shops.js'

// A page of 250 products with their variants and capped descriptions stays well under this.
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024

/** Shopify answered with an error status; `code` is its OAuth error (invalid_grant, invalid_request, ...). */
export class ShopifyError extends Error {
  override name = 'ShopifyError'
  constructor (readonly status: number, readonly code: string | undefined, readonly retryAfterSeconds: number | undefined, message: string) {
    super(message)
  }
}

export class ShopifyUnavailableError extends Error {
  override name = 'ShopifyUnavailableError'
}

export class ShopifyCallTimeoutError extends Error {
  override name = 'ShopifyCallTimeoutError'
}

const TokenAnswer = Type.Object({
  access_token: Type.String({ minLength: 1 }),
  scope: Type.String(),
  expires_in: Type.Optional(Type.Integer({ minimum: 1 })),
  refresh_token: Type.Optional(Type.String({ minLength: 1 })),
  refresh_token_expires_in: Type.Optional(Type.Integer({ minimum: 1 }))
})

/**
 * Every Shopify call: one undici Agent (a keep-alive pool per shop origin) with timeouts and a size cap.
 * URLs are SHOPIFY_SHOP_ORIGIN with the shop put in, plus the documented paths.
 */
export function createShopifyClient (config: Config, options: { dispatcher?: Dispatcher, now?: () => number } = {}) {
  const timeoutMs = config.GRAPH_TIMEOUT_MS
  const dispatcher = options.dispatcher ?? new Agent({
    connections: 16, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs }
  })
  const now = options.now ?? Date.now
  const origin = (shop: string) => config.SHOPIFY_SHOP_ORIGIN.replace('{shop}', shop)

  async function post<T extends TSchema> (shop: string, path: string, body: unknown, schema: T, headers: Record<string, string> = {}, deadline?: AbortSignal): Promise<Static<T>> {
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = deadline === undefined ? timeout : AbortSignal.any([timeout, deadline])
    let status: number
    let text: string
    let retryAfter: string | string[] | undefined
    try {
      const response = await request(`${origin(shop)}${path}`, {
        method: 'POST', dispatcher, signal, body: JSON.stringify(body), headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }
      })
      status = response.statusCode
      retryAfter = response.headers['retry-after']
      text = await readCapped(response.body, MAX_RESPONSE_BYTES)
    } catch (err) {
      if (isTimeout(err, signal)) throw new ShopifyCallTimeoutError(`Shopify ${path} timed out`, { cause: err })
      if (err instanceof ResponseTooLargeError) throw new ShopifyUnavailableError(`Shopify ${path} answer exceeds the size cap`, { cause: err })
      throw new ShopifyUnavailableError(`Shopify ${path} unreachable`, { cause: err })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (status >= 400) {
      const code = (parsed as { error?: unknown } | undefined)?.error
      const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
      throw new ShopifyError(status, typeof code === 'string' ? code : undefined, Number.isFinite(seconds) ? seconds : undefined, `Shopify ${path} answered ${status}`)
    }
    if (!checkerFor(schema).Check(parsed)) throw new ShopifyUnavailableError(`Shopify ${path} answered without the expected fields`)
    return parsed as Static<T>
  }

  async function tokens (shop: string, params: Record<string, string>, deadline?: AbortSignal): Promise<ShopTokens> {
    const answer = await post(shop, '/admin/oauth/access_token', { client_id: config.SHOPIFY_API_KEY, client_secret: config.SHOPIFY_API_SECRET, ...params }, TokenAnswer, {}, deadline)
    if (answer.expires_in === undefined || answer.refresh_token === undefined) throw new ShopifyUnavailableError('Shopify did not issue an expiring token')
    const at = now()
    return {
      accessToken: answer.access_token,
      accessExpiresAt: new Date(at + answer.expires_in * 1000),
      refreshToken: answer.refresh_token,
      refreshExpiresAt: answer.refresh_token_expires_in === undefined ? null : new Date(at + answer.refresh_token_expires_in * 1000),
      scopes: answer.scope.split(',').map(scope => scope.trim()).filter(scope => scope !== '')
    }
  }

  return {
    origin,
    /** The authorization code for an expiring offline token (required for public apps from 2027-01-01). */
    exchangeCode: (shop: string, code: string, deadline: AbortSignal) => tokens(shop, { code, expiring: '1' }, deadline),
    /** A new pair for a single-use refresh token; invalid_grant means only the owner can restore access. */
    async refresh (shop: string, refreshToken: string): Promise<ShopTokens> {
      try {
        return await tokens(shop, { grant_type: 'refresh_token', refresh_token: refreshToken })
      } catch (err) {
        if (err instanceof ShopifyError && (err.code === 'invalid_grant' || err.status === 401)) throw new RefreshRefusedError('Shopify refused the refresh token', { cause: err })
        throw err
      }
    },
    /** A GraphQL Admin API call; the answer's `data`, `errors` and `extensions` are the caller's to read. */
    graphql: <T extends TSchema>(shop: string, accessToken: string, query: string, variables: Record<string, unknown>, schema: T) =>
      post(shop, `/admin/api/${config.SHOPIFY_API_VERSION}/graphql.json`, { query, variables }, schema, { 'x-shopify-access-token': accessToken }),
    close: async () => { if (options.dispatcher === undefined) await dispatcher.close() }
  }
}

export type ShopifyClient = ReturnType<typeof createShopifyClient>
