import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { wantsHtml } from '../core/html.js'
import { bindingCookie } from '../tokens/browser-binding.js'
import { connectPageUrl, verifyConnectLink } from '../tokens/connect-link.js'
import { callbackClaims } from '../tokens/state-token.js'
import { BrowserMismatchError, InvalidStateError, LoginCancelledError } from './errors.js'
import { fetchConnection } from './fetch-connection.js'
import { updateMessengerProfiles } from './messenger-profile.js'
import { resubscribeOutdated, subscribePages } from './page-subscriptions.js'

const LoginQuery = Type.Object({
  link: Type.Optional(Type.String({ maxLength: 1024 })),
  rerequest: Type.Optional(Type.Literal('1'))
})

const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  state: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  error: Type.Optional(Type.String({ maxLength: 128 })),
  error_reason: Type.Optional(Type.String({ maxLength: 128 })),
  error_code: Type.Optional(Type.String({ maxLength: 16 })),
  error_description: Type.Optional(Type.String({ maxLength: 1024 }))
})

const facebookOauth: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, stateToken, graph, store } = fastify
  const binding = bindingCookie({ secure: config.secureCookies, maxAgeSeconds: config.STATE_TOKEN_TTL_SECONDS })
  const messengerOn = config.features.messenger
  if (messengerOn) {
    let resubscribing: Promise<void> | undefined
    fastify.addHook('onReady', async () => {
      // In the background: a slow Graph is no reason to hold the start back.
      resubscribing = resubscribeOutdated(graph, store, fastify.log).catch(err => fastify.log.warn({ err }, 'Pages not subscribed again'))
    })
    fastify.addHook('onClose', async () => { await resubscribing })
  }
  // Everything but state and code_challenge is fixed at startup.
  const dialogPrefix = `${config.FACEBOOK_DIALOG_URL}/${config.GRAPH_API_VERSION}/dialog/oauth?` + new URLSearchParams({
    client_id: config.FACEBOOK_APP_ID,
    redirect_uri: config.FACEBOOK_REDIRECT_URI,
    response_type: 'code',
    ...(config.FACEBOOK_LOGIN_CONFIG_ID === '' ? { scope: config.FACEBOOK_SCOPES } : { config_id: config.FACEBOOK_LOGIN_CONFIG_ID }),
    code_challenge_method: 'S256'
  }).toString().replaceAll('+', '%20')

  // Not async: nothing to wait for, and the login is the service's hot path.
  fastify.get('/login', { schema: { querystring: LoginQuery }, onRequest: fastify.clientRateLimit }, (request, reply) => {
    const link = verifyConnectLink(fastify, request.query.link)
    const { binding: challenge } = binding.start(reply)
    const state = stateToken.issue('facebook', link.workspace,
      { ttlSeconds: config.STATE_TOKEN_TTL_SECONDS, binding: challenge, linkExp: link.exp })
    const rerequest = request.query.rerequest === '1' ? '&auth_type=rerequest' : ''
    // state and code_challenge are base64url and dots: already URL-safe.
    reply
      .header('cache-control', 'no-store')
      .redirect(`${dialogPrefix}&state=${state}&code_challenge=${challenge}${rerequest}`, 302)
  })

  fastify.get('/callback', { schema: { querystring: CallbackQuery }, onRequest: fastify.clientRateLimit }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const { code, state, error } = request.query
    const claims = callbackClaims(stateToken, state, 'facebook')
    const verifier = binding.finish(request, reply, claims?.binding)
    if (error !== undefined) throw new LoginCancelledError()
    if (claims === undefined || code === undefined) throw new InvalidStateError()
    if (verifier === undefined) throw new BrowserMismatchError()

    const deadline = AbortSignal.timeout(config.CALLBACK_TIMEOUT_MS)
    const connection = await fetchConnection(graph, config, code, verifier, deadline)
    const { workspace } = claims
    const { moved, elsewhere } = await store.pages.saveConnection({ workspace, user: connection.user, pages: connection.pages })
    const connectedHere = connection.pages.filter(page => !elsewhere.includes(page.id))
    const subscribed = messengerOn
      ? await subscribePages(graph, store, request.log, connectedHere.filter(page => page.canMessage), deadline)
      : undefined
    if (messengerOn) {
      // Not awaited: the welcome screen is no reason to keep the owner waiting, nor to fail their connection.
      const canMessage = connectedHere.filter(page => page.canMessage).map(page => page.id)
      updateMessengerProfiles(graph, store, request.log, workspace, canMessage)
        .catch(err => request.log.warn({ err }, 'Messenger Profiles not set'))
    }
    for (const page of moved) {
      request.log.info({ pageId: page.id, fromWorkspace: page.fromWorkspace, toWorkspace: claims.workspace },
        'page moved to another workspace')
    }
    request.log.info({ workspace, userId: connection.user.id, pageCount: connectedHere.length, elsewhere: elsewhere.length },
      'facebook pages connected')

    if (wantsHtml(request.headers.accept)) {
      // Back to the connect page with a link that expires when the one the flow started from does.
      const link = stateToken.issue('connect', claims.workspace, { expiresAt: claims.linkExp ?? claims.exp })
      const result: Record<string, string> = { connected: 'facebook' }
      if (connection.missingPermissions.length > 0) result.missing = connection.missingPermissions.join(',')
      if (elsewhere.length > 0) result.elsewhere = String(elsewhere.length)
      return reply.redirect(connectPageUrl(link, result), 303)
    }
    return {
      workspace: claims.workspace,
      user: { id: connection.user.id, name: connection.user.name },
      pages: connection.pages.map(({ id, name, category, tasks, canMessage }) => ({
        id,
        name,
        category,
        tasks,
        canMessage,
        ...(elsewhere.includes(id) ? { connectedElsewhere: true } : {}),
        ...(subscribed === undefined ? {} : { subscribed: subscribed.get(id) ?? false })
      })),
      missingPermissions: connection.missingPermissions
    }
  })
}

export default facebookOauth
