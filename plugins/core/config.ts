import fastifyEnv from '@fastify/env'
import { type Static, Type } from '@sinclair/typebox'
import { envSchema } from 'env-schema'
import fp from 'fastify-plugin'
import { parseEncryptionKeys } from './encryption-keys.js'

const httpUrl = '^https?://[^\\s/?#]+(/[^\\s#]*)?$'
const csv = (pattern: string) => `^${pattern}(,${pattern})*$`
const origin = '^https?://[^\\s/?#]+$'
const shortOrEmpty = '^(\\S{1,256})?$'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

// Each `description` is what an error message says is allowed: words a person can act on, never the pattern.
export const ConfigSchema = Type.Object({
  FACEBOOK_APP_ID: Type.String({ pattern: '^[0-9]{15,20}$', description: "15 to 20 digits (the App ID from Meta's App Dashboard)" }),
  FACEBOOK_APP_SECRET: Type.String({ minLength: 1 }),
  FACEBOOK_REDIRECT_URI: Type.String({ pattern: httpUrl, description: 'an absolute http(s) URL' }),
  PUBLIC_BASE_URL: Type.String({
    pattern: '^(https?://[^\\s/?#]+)?$', default: '', description: 'an origin like https://bot.example.com (no path), or empty'
  }),
  STATE_TOKEN_SECRET: Type.String({ minLength: 32 }),
  TOKEN_ENCRYPTION_KEY: Type.String({ minLength: 1 }),
  ADMIN_API_TOKEN: Type.String({ minLength: 32 }),
  CONNECT_LINK_TTL_SECONDS: Type.Integer({ minimum: 1, default: 86400 }),
  FACEBOOK_SCOPES: Type.String({
    pattern: csv('[a-z_]+'),
    default: 'pages_show_list,pages_messaging,pages_manage_metadata',
    description: 'a comma-separated list of permissions like pages_messaging'
  }),
  FACEBOOK_LOGIN_CONFIG_ID: Type.String({ pattern: '^([0-9]{1,32})?$', default: '', description: 'digits, or empty' }),
  GRAPH_API_VERSION: Type.String({
    pattern: '^v[0-9]{1,2}\\.[0-9]$', default: 'v26.0', description: 'a Graph API version with its leading v, like v22.0'
  }),
  FACEBOOK_GRAPH_URL: Type.String({
    pattern: origin,
    default: 'https://graph.facebook.com',
    description: 'an origin like https://graph.facebook.com'
  }),
  FACEBOOK_DIALOG_URL: Type.String({
    pattern: origin,
    default: 'https://www.facebook.com',
    description: 'an origin like https://www.facebook.com'
  }),
  GRAPH_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  CALLBACK_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 8000 }),
  STATE_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 9000 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000 }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATABASE_URL: Type.String({
    pattern: '^(postgres(ql)?://\\S+)?$',
    default: '',
    description: 'a postgres:// URL, or empty for the embedded store'
  }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Union(LOG_LEVELS.map(level => Type.Literal(level)), {
    default: 'info', description: `one of ${LOG_LEVELS.join(', ')}`
  }),
  TRUST_PROXY: Type.String({
    pattern: '^([0-9a-fA-F:./]+(,\\s*[0-9a-fA-F:./]+)*)?$',
    default: '',
    description: 'a comma-separated list of addresses or CIDR ranges, or empty'
  }),
  CORS_ORIGINS: Type.String({
    pattern: `^(${csv('https?://[^\\s/?#,*]+')})?$`,
    default: '',
    description: 'a comma-separated list of origins like https://shop.example.com (no wildcard), or empty'
  }),
  MESSENGER_VERIFY_TOKEN: Type.String({
    pattern: '^(\\S{16,256})?$', default: '', description: '16 to 256 characters, no spaces, or empty to turn Messenger off'
  }),
  SEND_RATE_PER_PAGE: Type.Integer({ minimum: 1, maximum: 300, default: 20 }),
  MESSENGER_HUMAN_AGENT: Type.Boolean({ default: false }),
  BOT_DISCLOSURE: Type.String({
    minLength: 1,
    maxLength: 640,
    default: "You're chatting with an automated assistant. Reply 'human' at any time to reach a person.",
    description: '1 to 640 characters: what the bot says first in a conversation, and after a person hands it back'
  }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 60 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60000 }),
  SHOPIFY_API_KEY: Type.String({
    pattern: shortOrEmpty,
    default: '',
    description: '1 to 256 characters, no spaces, or empty to turn Shopify off'
  }),
  SHOPIFY_API_SECRET: Type.String({ pattern: shortOrEmpty, default: '', description: '1 to 256 characters, no spaces, or empty' }),
  SHOPIFY_API_SECRET_PREVIOUS: Type.String({ pattern: shortOrEmpty, default: '', description: '1 to 256 characters, no spaces, or empty' }),
  SHOPIFY_REDIRECT_URI: Type.String({
    pattern: `^(${httpUrl.slice(1, -1)})?$`,
    default: '',
    description: 'an absolute http(s) URL, or empty'
  }),
  SHOPIFY_SCOPES: Type.String({
    pattern: csv('[a-z_]+'),
    default: 'read_products',
    description: 'a comma-separated list of scopes like read_products'
  }),
  SHOPIFY_API_VERSION: Type.String({
    pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$',
    default: '2026-10',
    description: 'a Shopify API version like 2026-10'
  }),
  SHOPIFY_SHOP_ORIGIN: Type.String({
    pattern: '^https?://[^\\s?#]*\\{shop\\}[^\\s?#]*$', default: 'https://{shop}', description: 'a URL containing {shop}, like https://{shop}'
  }),
  SHOPIFY_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  LLM_BASE_URL: Type.String({
    pattern: '^(https?://[^\\s?#]+)?$',
    default: '',
    description: 'an http(s) URL ending before /chat/completions (like https://api.openai.com/v1), or empty for no LLM'
  }),
  LLM_API_KEY: Type.String({
    pattern: '^(\\S{1,512})?$', default: '', description: '1 to 512 characters, no spaces, or empty (a local server)'
  }),
  LLM_MODEL: Type.String({ pattern: '^(\\S{1,200})?$', default: '', description: 'a model name like gpt-4o-mini, or empty for no LLM' }),
  LLM_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000 }),
  LLM_MAX_TOOL_ROUNDS: Type.Integer({ minimum: 1, maximum: 10, default: 3 })
})

/** Decided once from the variables, so no code tests a setting for emptiness again. */
export interface Derived {
  features: { messenger: boolean, shopify: boolean, llm: boolean }
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
    throw new ConfigError(`invalid configuration: ${describeProblems(err as Error & { errors?: SchemaProblem[] })}`)
  }
  refusePlaceholders(config)
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
  checkLlm(config)
  config.LLM_BASE_URL = config.LLM_BASE_URL.replace(/\/+$/, '')
  return {
    ...config,
    features: { messenger: config.MESSENGER_VERIFY_TOKEN !== '', shopify: config.SHOPIFY_API_KEY !== '', llm: config.LLM_MODEL !== '' },
    secureCookies: config.PUBLIC_BASE_URL.startsWith('https:')
  }
}

// What .env.example holds until someone fills it in: a copied example must not boot with secrets anyone can read.
const PLACEHOLDER = /replace-with/i
const SECRETS = ['FACEBOOK_APP_SECRET', 'STATE_TOKEN_SECRET', 'ADMIN_API_TOKEN', 'SHOPIFY_API_SECRET',
  'SHOPIFY_API_SECRET_PREVIOUS'] as const

function refusePlaceholders (config: Static<typeof ConfigSchema>) {
  for (const name of SECRETS) {
    if (PLACEHOLDER.test(config[name])) {
      throw new ConfigError(`${name} is still the placeholder from .env.example: set a secret of your own`)
    }
  }
  if (/^0+$/.test(config.FACEBOOK_APP_ID)) {
    throw new ConfigError("FACEBOOK_APP_ID is still the placeholder from .env.example: set your app's id (Meta's App Dashboard)")
  }
}

interface SchemaProblem { instancePath: string, keyword: string, params: { missingProperty?: string, limit?: number } }

/**
 * One sentence per variable, in words a person can act on: the schema's own description of what is allowed, never
 * a raw pattern, never the value, and a union of allowed values said once (ajv reports each branch).
 */
function describeProblems (err: Error & { errors?: SchemaProblem[] }): string {
  if (err.errors === undefined) return err.message
  const said = new Map<string, string>()
  for (const problem of err.errors) {
    const name = problem.keyword === 'required' ? problem.params.missingProperty! : problem.instancePath.replace(/^\//, '')
    if (said.has(name)) continue
    const described = (ConfigSchema.properties as Record<string, { description?: string }>)[name]?.description
    const { limit } = problem.params
    said.set(name, problem.keyword === 'required'
      ? `${name} is required (see .env.example)`
      : problem.keyword === 'type'
        ? `${name} must be a whole number`
        : problem.keyword === 'minimum' || problem.keyword === 'maximum'
          ? `${name} must be ${problem.keyword === 'minimum' ? 'at least' : 'at most'} ${limit}`
          : problem.keyword === 'minLength'
            ? `${name} must be at least ${limit} characters`
            : `${name} must be ${described ?? 'as .env.example describes'}`)
  }
  return [...said.values()].join('; ')
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

/** The LLM's base URL and model go together; the key without them means nothing and is refused as a likely mistake. */
function checkLlm (config: Static<typeof ConfigSchema>) {
  if (config.LLM_BASE_URL !== '' && config.LLM_MODEL === '') {
    throw new ConfigError('LLM_MODEL is required with LLM_BASE_URL: name the model to use, or leave both empty for no LLM')
  }
  if (config.LLM_MODEL !== '' && config.LLM_BASE_URL === '') {
    throw new ConfigError('LLM_BASE_URL is required with LLM_MODEL: the server\'s URL ending before /chat/completions')
  }
  if (config.LLM_API_KEY !== '' && config.LLM_MODEL === '') {
    throw new ConfigError('LLM_API_KEY is set without LLM_BASE_URL and LLM_MODEL: set them too, or leave the key empty')
  }
  if (PLACEHOLDER.test(config.LLM_API_KEY)) {
    throw new ConfigError('LLM_API_KEY is still the placeholder from .env.example: set your key, or leave it empty')
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
