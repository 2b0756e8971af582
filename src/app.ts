import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import proxyAddr from 'proxy-addr'
import type { DestinationStream } from 'pino'
import type { Dispatcher } from 'undici'
import admin from '../plugins/admin/index.js'
import configPlugin, { type Config, csvList } from '../plugins/core/config.js'
import connect from '../plugins/connect/index.js'
import drain from '../plugins/core/drain.js'
import { PUBLIC_CODE_PREFIX } from '../plugins/core/errors.js'
import facebookData from '../plugins/facebook/data-callbacks.js'
import facebookOauth from '../plugins/facebook/login.js'
import graph from '../plugins/facebook/graph.js'
import health from '../plugins/core/health.js'
import messengerEvents from '../plugins/messenger/emitter.js'
import messenger from '../plugins/messenger/webhook.js'
import { escapeHtml, renderPage, wantsHtml } from '../plugins/core/html.js'
import clientRateLimit from '../plugins/core/rate-limit.js'
import securityHeaders from '../plugins/core/security-headers.js'
import shopify from '../plugins/shopify/index.js'
import shopifyOauth from '../plugins/shopify/oauth.js'
import shopifyWebhooks from '../plugins/shopify/webhooks.js'
import stateToken from '../plugins/tokens/state-token.js'
import store from '../plugins/store/index.js'
import type { Db } from '../plugins/store/db.js'
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

function sendError (request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string) {
  const error = STATUS_CODES[statusCode] ?? 'Error'
  if (wantsHtml(request.headers.accept)) {
    return reply.code(statusCode).type('text/html; charset=utf-8')
      .send(renderPage(error, `<p>${escapeHtml(message)}</p><p class="muted">Request id: <code>${escapeHtml(request.id)}</code></p>`))
  }
  return reply.code(statusCode).send({ statusCode, error, message, requestId: request.id })
}

/** The root plugin; not encapsulated, so the server (and tests) see its decorators. */
export const app = fp(async (fastify: FastifyInstance, { config, ...deps }: AppDependencies & { config: Config }) => {
  await fastify.register(configPlugin, { config })
  await fastify.register(securityHeaders)
  await fastify.register(drain)
  const corsOrigins = csvList(config.CORS_ORIGINS)
  if (corsOrigins.length > 0) await fastify.register(cors, { origin: corsOrigins })
  await fastify.register(cookie)
  await fastify.register(clientRateLimit)
  await fastify.register(stateToken, deps.clock === undefined ? {} : { clock: deps.clock })
  await fastify.register(graph, deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher })
  await fastify.register(store, deps.db === undefined ? {} : { db: deps.db })
  await fastify.register(messengerEvents)
  if (config.SHOPIFY_API_KEY !== '') await fastify.register(shopify, deps.shopifyDispatcher === undefined ? {} : { dispatcher: deps.shopifyDispatcher })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    const writtenForPeople = error.code?.startsWith(PUBLIC_CODE_PREFIX) === true
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code: error.code, statusCode }, 'request refused')
    const message = writtenForPeople || statusCode < 500 ? error.message : 'Something went wrong on our side. Please try again later.'
    return sendError(request, reply, statusCode, message)
  })
  // Fastify's default 404 names the method and URL, query and all.
  fastify.setNotFoundHandler((request, reply) => sendError(request, reply, 404, 'Not found.'))

  await fastify.register(health)
  await fastify.register(facebookOauth, { prefix: '/facebook' })
  await fastify.register(facebookData, { prefix: '/facebook' })
  await fastify.register(connect)
  await fastify.register(admin, { prefix: '/admin' })
  if (config.MESSENGER_VERIFY_TOKEN !== '') {
    await fastify.register(messenger, { prefix: '/messenger' })
  }
  if (config.SHOPIFY_API_KEY !== '') {
    await fastify.register(shopifyOauth, { prefix: '/shopify' })
    await fastify.register(shopifyWebhooks, { prefix: '/shopify' })
  }
}, { name: 'app', fastify: '5.x' })

/** A Fastify instance configured from `config`, with the app registered and ready. */
export async function buildServer (config: Config, deps: AppDependencies = {}) {
  const trustedProxies = csvList(config.TRUST_PROXY)
  const trusted = trustedProxies.length > 0 ? proxyAddr.compile(trustedProxies) : undefined
  const fastify = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, deps.logStream),
    logController: new RequestLogController(),
    childLoggerFactory,
    trustProxy: trustedProxies.length > 0 ? trustedProxies : false,
    requestIdHeader: false,
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
