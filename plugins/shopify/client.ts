import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Agent, type Dispatcher } from 'undici'
import { callUpstream, checkerFor, type UpstreamFailures } from '../core/http-json.js'

// A page of 250 products with their variants and capped descriptions stays well under this.
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024

/** Shopify answered with an error status; `code` is its OAuth error (invalid_grant, invalid_request, ...). */
export class ShopifyError extends Error {
  override name = 'ShopifyError'
  constructor (
    readonly status: number, readonly code: string | undefined, readonly retryAfterSeconds: number | undefined, message: string
  ) {
    super(message)
  }
}

export class ShopifyUnavailableError extends Error {
  override name = 'ShopifyUnavailableError'
}

export class ShopifyCallTimeoutError extends Error {
  override name = 'ShopifyCallTimeoutError'
}

/** What Shopify's token endpoint hands out: an expiring offline token and the single-use token that renews it. */
export interface ShopTokens {
  accessToken: string
  accessExpiresAt: Date
  refreshToken: string
  refreshExpiresAt: Date | null
  scopes: string[]
}

const TokenAnswer = Type.Object({
  access_token: Type.String({ minLength: 1 }),
  scope: Type.String(),
  expires_in: Type.Optional(Type.Integer({ minimum: 1 })),
  refresh_token: Type.Optional(Type.String({ minLength: 1 })),
  refresh_token_expires_in: Type.Optional(Type.Integer({ minimum: 1 }))
})

const failures: UpstreamFailures = {
  timedOut: (message, cause) => new ShopifyCallTimeoutError(message, { cause }),
  unavailable: (message, cause) => new ShopifyUnavailableError(message, { cause })
}

export interface ShopifyClientOptions {
  apiKey: string
  apiSecret: string
  apiVersion: string
  /** where a shop is reached, `{shop}` standing for its name.myshopify.com */
  shopOrigin: string
  timeoutMs: number
  dispatcher?: Dispatcher
  now?: () => number
}

/**
 * Every Shopify call: one undici Agent (a keep-alive pool per shop origin) with timeouts and a size cap.
 * URLs are the shop origin with the shop put in, plus the documented paths.
 */
export function createShopifyClient (options: ShopifyClientOptions) {
  const { timeoutMs } = options
  const dispatcher = options.dispatcher ?? new Agent({
    connections: 16, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs }
  })
  const now = options.now ?? Date.now
  const origin = (shop: string) => options.shopOrigin.replace('{shop}', shop)

  async function post<T extends TSchema> (shop: string, path: string, body: unknown, schema: T,
    headers: Record<string, string> = {}, deadline?: AbortSignal): Promise<Static<T>> {
    const { status, headers: answerHeaders, json } = await callUpstream(`${origin(shop)}${path}`, {
      method: 'POST',
      dispatcher,
      timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      failures,
      name: `Shopify ${path}`,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      deadline
    })
    if (status >= 400) {
      const code = (json as { error?: unknown } | undefined)?.error
      const retryAfter = answerHeaders['retry-after']
      const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
      throw new ShopifyError(status, typeof code === 'string' ? code : undefined, Number.isFinite(seconds) ? seconds : undefined,
        `Shopify ${path} answered ${status}`)
    }
    if (!checkerFor(schema).Check(json)) throw new ShopifyUnavailableError(`Shopify ${path} answered without the expected fields`)
    return json as Static<T>
  }

  async function tokens (shop: string, params: Record<string, string>, deadline?: AbortSignal): Promise<ShopTokens> {
    const credentials = { client_id: options.apiKey, client_secret: options.apiSecret }
    const answer = await post(shop, '/admin/oauth/access_token', { ...credentials, ...params }, TokenAnswer, {}, deadline)
    if (answer.expires_in === undefined || answer.refresh_token === undefined) {
      throw new ShopifyUnavailableError('Shopify did not issue an expiring token')
    }
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
    /** A new pair for a single-use refresh token; 'refused' (invalid_grant) means only the owner can restore access. */
    async refresh (shop: string, refreshToken: string): Promise<ShopTokens | 'refused'> {
      try {
        return await tokens(shop, { grant_type: 'refresh_token', refresh_token: refreshToken })
      } catch (err) {
        if (err instanceof ShopifyError && (err.code === 'invalid_grant' || err.status === 401)) return 'refused'
        throw err
      }
    },
    /** A GraphQL Admin API call; the answer's `data`, `errors` and `extensions` are the caller's to read. */
    graphql: <T extends TSchema>(shop: string, accessToken: string, query: string, variables: Record<string, unknown>, schema: T) =>
      post(shop, `/admin/api/${options.apiVersion}/graphql.json`, { query, variables }, schema, { 'x-shopify-access-token': accessToken }),
    close: async () => { if (options.dispatcher === undefined) await dispatcher.close() }
  }
}

export type ShopifyClient = ReturnType<typeof createShopifyClient>
