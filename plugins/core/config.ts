import fastifyEnv from '@fastify/env'
import { type Static, Type } from '@sinclair/typebox'
import { envSchema } from 'env-schema'
import fp from 'fastify-plugin'
import { parseEncryptionKeys } from './encryption-keys.js'

const httpUrl = '^https?://[^\\s/?#]+(/[^\\s#]*)?$'
const csv = (pattern: string) => `^${pattern}(,${pattern})*$`

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export const ConfigSchema = Type.Object({
  FACEBOOK_APP_ID: Type.String({ pattern: '^[0-9]{15,20}$' }),
  FACEBOOK_APP_SECRET: Type.String({ minLength: 1 }),
  FACEBOOK_REDIRECT_URI: Type.String({ pattern: httpUrl }),
  PUBLIC_BASE_URL: Type.String({ pattern: '^(https?://[^\\s/?#]+)?$', default: '' }),
  STATE_TOKEN_SECRET: Type.String({ minLength: 32 }),
  TOKEN_ENCRYPTION_KEY: Type.String({ minLength: 1 }),
  ADMIN_API_TOKEN: Type.String({ minLength: 32 }),
  CONNECT_LINK_TTL_SECONDS: Type.Integer({ minimum: 1, default: 86400 }),
  FACEBOOK_SCOPES: Type.String({ pattern: csv('[a-z_]+'), default: 'pages_show_list,pages_messaging,pages_manage_metadata' }),
  FACEBOOK_LOGIN_CONFIG_ID: Type.String({ pattern: '^([0-9]{1,32})?$', default: '' }),
  GRAPH_API_VERSION: Type.String({ pattern: '^v[0-9]{1,2}\\.[0-9]$', default: 'v26.0' }),
  FACEBOOK_GRAPH_URL: Type.String({ pattern: '^https?://[^\\s/?#]+$', default: 'https://graph.facebook.com' }),
  FACEBOOK_DIALOG_URL: Type.String({ pattern: '^https?://[^\\s/?#]+$', default: 'https://www.facebook.com' }),
  GRAPH_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  CALLBACK_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 8000 }),
  STATE_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 9000 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000 }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATABASE_URL: Type.String({ pattern: '^(postgres(ql)?://\\S+)?$', default: '' }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Union(LOG_LEVELS.map(level => Type.Literal(level)), { default: 'info' }),
  TRUST_PROXY: Type.String({ pattern: '^([0-9a-fA-F:./]+(,\\s*[0-9a-fA-F:./]+)*)?$', default: '' }),
  CORS_ORIGINS: Type.String({ pattern: `^(${csv('https?://[^\\s/?#,*]+')})?$`, default: '' }),
  MESSENGER_VERIFY_TOKEN: Type.String({ pattern: '^(\\S{16,256})?$', default: '' }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 60 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60000 }),
  SHOPIFY_API_KEY: Type.String({ pattern: '^(\\S{1,256})?$', default: '' }),
  SHOPIFY_API_SECRET: Type.String({ pattern: '^(\\S{1,256})?$', default: '' }),
  SHOPIFY_API_SECRET_PREVIOUS: Type.String({ pattern: '^(\\S{1,256})?$', default: '' }),
  SHOPIFY_REDIRECT_URI: Type.String({ pattern: `^(${httpUrl.slice(1, -1)})?$`, default: '' }),
  SHOPIFY_SCOPES: Type.String({ pattern: csv('[a-z_]+'), default: 'read_products' }),
  SHOPIFY_API_VERSION: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', default: '2026-10' }),
  SHOPIFY_SHOP_ORIGIN: Type.String({ pattern: '^https?://[^\\s?#]*\\{shop\\}[^\\s?#]*$', default: 'https://{shop}' }),
  SHOPIFY_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 })
})

/** Decided once from the variables, so no code tests a setting for emptiness again. */
export interface Derived {
  features: { messenger: boolean, shopify: boolean }
  /** PUBLIC_BASE_URL is https: cookies are Secure and take the __Host- prefix */
  secureCookies: boolean
}

export type Config = Static<typeof ConfigSchema> & Derived

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Validates, defaults and coerces the environment; messages name the variable, never its value.
 * With `dotenv`, `.env` is read first and `env` wins over it.
 */
export function loadConfig (env: Record<string, string | undefined>, { dotenv = false } = {}): Config {
  let config: Static<typeof ConfigSchema>
  try {
    config = envSchema<Static<typeof ConfigSchema>>({ schema: ConfigSchema, data: env, env: false, dotenv })
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message.replaceAll('env/', '')}`)
  }
  for (const secret of csvList(config.STATE_TOKEN_SECRET)) {
    if (secret.length < 32) {
      throw new ConfigError('STATE_TOKEN_SECRET must be a comma-separated list of secrets of at least 32 characters each')
    }
  }
  try {
    parseEncryptionKeys(config.TOKEN_ENCRYPTION_KEY)
  } catch (err) {
    throw new ConfigError(`TOKEN_ENCRYPTION_KEY ${(err as Error).message}`)
  }
  if (config.PUBLIC_BASE_URL === '') config.PUBLIC_BASE_URL = new URL(config.FACEBOOK_REDIRECT_URI).origin
  checkShopify(config)
  return {
    ...config,
    features: { messenger: config.MESSENGER_VERIFY_TOKEN !== '', shopify: config.SHOPIFY_API_KEY !== '' },
    secureCookies: config.PUBLIC_BASE_URL.startsWith('https:')
  }
}

/** The Shopify variables go together: none of them, or the key, the secret and the redirect URI. */
function checkShopify (config: Static<typeof ConfigSchema>) {
  if ((config.SHOPIFY_API_KEY === '') !== (config.SHOPIFY_API_SECRET === '')) {
    throw new ConfigError('SHOPIFY_API_KEY and SHOPIFY_API_SECRET must be set together')
  }
  if (config.SHOPIFY_API_KEY === '') return
  const redirect = config.SHOPIFY_REDIRECT_URI === '' ? undefined : new URL(config.SHOPIFY_REDIRECT_URI)
  if (redirect === undefined || !redirect.pathname.endsWith('/shopify/callback') || redirect.search !== '') {
    throw new ConfigError('SHOPIFY_REDIRECT_URI must be set with SHOPIFY_API_KEY, as the absolute URL of /shopify/callback')
  }
}

export function csvList (value: string): string[] {
  return value.split(',').map(item => item.trim()).filter(item => item !== '')
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/**
 * `fastify.config`, decorated by @fastify/env from the values loadConfig already checked (Fastify's own options
 * need them before Fastify exists). The same schema checks them again.
 */
export default fp<{ config: Config }>(async (fastify, { config }) => {
  await fastify.register(fastifyEnv, { schema: ConfigSchema, data: { ...config }, env: false, dotenv: false })
  // env-schema keeps only the schema's own variables: the derived fields are put back beside them.
  const { features, secureCookies } = config
  Object.assign(fastify.config, { features, secureCookies } satisfies Derived)
}, { name: 'config', fastify: '5.x' })
