import { randomUUID } from 'node:crypto'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { DestinationStream } from 'pino'
import proxyAddr from 'proxy-addr'
import type { Dispatcher } from 'undici'
import admin from '../plugins/admin/index.js'
import bot from '../plugins/bot/index.js'
import campaigns from '../plugins/campaigns/index.js'
import clicks from '../plugins/clicks/index.js'
import connect from '../plugins/connect/index.js'
import ownerConsole from '../plugins/console/index.js'
import configPlugin, { type Config, csvList } from '../plugins/core/config.js'
import drain from '../plugins/core/drain.js'
import errorHandler, { clientErrorHandler, frameworkErrorHandler } from '../plugins/core/error-handler.js'
import { DatabaseUnavailableError } from '../plugins/core/errors.js'
import health from '../plugins/core/health.js'
import clientRateLimit from '../plugins/core/rate-limit.js'
import securityHeadersPlugin, { securityHeaders } from '../plugins/core/security-headers.js'
import facebookData from '../plugins/facebook/data-callbacks.js'
import graph from '../plugins/facebook/graph.js'
import facebookOauth from '../plugins/facebook/login.js'
import messengerEvents from '../plugins/messenger/emitter.js'
import messenger from '../plugins/messenger/webhook.js'
import outbox from '../plugins/outbox/index.js'
import shopify from '../plugins/shopify/index.js'
import shopifyOauth from '../plugins/shopify/oauth.js'
import shopifyWebhooks from '../plugins/shopify/webhooks.js'
import { type Db, StoreUnavailableError } from '../plugins/store/db.js'
import store from '../plugins/store/index.js'
import stateToken from '../plugins/tokens/state-token.js'
import { childLoggerFactory, loggerOptions, RequestLogController } from './logger.js'

export interface AppDependencies {
  /** Graph's dispatcher; by default the graph plugin opens its own pool */
  dispatcher?: Dispatcher
  /** Shopify's dispatcher; by default the shopify plugin opens its own agent */
  shopifyDispatcher?: Dispatcher
  /** an open database the caller owns; by default the store opens PGlite in DATA_DIR */
  db?: Db
  clock?: () => number
  logStream?: DestinationStream
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

// The store knows no HTTP: its "database is away" becomes the 503 that asks the caller to try again.
const httpForm = (error: Error) => error instanceof StoreUnavailableError ? new DatabaseUnavailableError({ cause: error }) : undefined

/** The root plugin; not encapsulated, so the server (and tests) see its decorators. */
export const app = fp(async (fastify: FastifyInstance, { config, ...deps }: AppDependencies & { config: Config }) => {
  await fastify.register(configPlugin, { config })
  await fastify.register(errorHandler, { translate: httpForm })
  await fastify.register(securityHeadersPlugin)
  await fastify.register(drain)
  const corsOrigins = csvList(config.CORS_ORIGINS)
  if (corsOrigins.length > 0) await fastify.register(cors, { origin: corsOrigins })
  await fastify.register(cookie)
  await fastify.register(clientRateLimit)
  await fastify.register(stateToken, deps.clock === undefined ? {} : { clock: deps.clock })
  await fastify.register(graph, deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher })
  await fastify.register(store, deps.db === undefined ? {} : { db: deps.db })
  await fastify.register(messengerEvents)
  if (config.features.messenger) {
    await fastify.register(outbox)
    await fastify.register(bot)
    await fastify.register(campaigns)
  }
  if (config.features.shopify) {
    await fastify.register(shopify, deps.shopifyDispatcher === undefined ? {} : { dispatcher: deps.shopifyDispatcher })
  }

  await fastify.register(health)
  await fastify.register(facebookOauth, { prefix: '/facebook' })
  await fastify.register(facebookData, { prefix: '/facebook' })
  await fastify.register(connect)
  await fastify.register(clicks)
  await fastify.register(admin, { prefix: '/admin' })
  if (config.features.messenger) {
    await fastify.register(messenger, { prefix: '/messenger' })
    await fastify.register(ownerConsole, { prefix: '/console' })
  }
  if (config.features.shopify) {
    await fastify.register(shopifyOauth, { prefix: '/shopify' })
    await fastify.register(shopifyWebhooks, { prefix: '/shopify' })
  }
}, { name: 'app', fastify: '5.x' })

/** A Fastify instance configured from `config`, with the app registered and ready. */
export async function buildServer (config: Config, deps: AppDependencies = {}) {
  const trustedProxies = csvList(config.TRUST_PROXY)
  const trusted = trustedProxies.length > 0 ? proxyAddr.compile(trustedProxies) : undefined
  const headers = securityHeaders()
  const fastify = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, deps.logStream),
    logController: new RequestLogController(),
    childLoggerFactory,
    trustProxy: trustedProxies.length > 0 ? trustedProxies : false,
    requestIdHeader: false,
    frameworkErrors: frameworkErrorHandler(headers),
    clientErrorHandler: clientErrorHandler(headers),
    // Slow or silent clients cannot hold connections open: the whole request within the limit, no idle socket past it.
    // Node reads the request timeout when the server is created (set later, Node 20 ignored it in a test here).
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    connectionTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(5000, Math.ceil(config.REQUEST_TIMEOUT_MS / 2))
    },
    // A proxy's X-Request-Id is kept only when the peer is a trusted proxy; anything else gets a fresh id.
    genReqId: request => {
      const offered = request.headers['x-request-id']
      if (trusted !== undefined && typeof offered === 'string' && REQUEST_ID.test(offered) &&
        trusted(request.socket.remoteAddress ?? '', 0)) return offered
      return randomUUID()
    }
  }).withTypeProvider<TypeBoxTypeProvider>()
  await fastify.register(app, { config, ...deps })
  await fastify.ready()
  return fastify
}

/** What a person needs to know when the server cannot listen: what is wrong and which setting changes it. */
export function listenProblem (err: Error & { code?: string }, host: string, port: number): string {
  if (err.code === 'EADDRINUSE') return `port ${port} on ${host} is already in use: stop what uses it, or set PORT to another port`
  if (err.code === 'EACCES') return `port ${port} on ${host} is not allowed for this user: set PORT above 1023`
  if (err.code === 'EADDRNOTAVAIL') return `${host} is not an address of this machine: set HOST`
  return `cannot listen on ${host}:${port} (${err.code ?? err.message})`
}

/** What this instance runs with, for the first log line: never a URL (DATABASE_URL holds a password) or a secret. */
export const capabilities = (config: Config) => ({
  messenger: config.features.messenger,
  shopify: config.features.shopify,
  llm: config.features.llm ? config.LLM_MODEL : false,
  store: config.DATABASE_URL === '' ? 'embedded PGlite in DATA_DIR' : 'PostgreSQL (DATABASE_URL)'
})
