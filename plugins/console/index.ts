import { hkdfSync } from 'node:crypto'
import csrf from '@fastify/csrf-protection'
import createError from '@fastify/error'
import formbody from '@fastify/formbody'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { progressEvents } from '../campaigns/events.js'
import { CAMPAIGN_ACTIONS } from '../campaigns/index.js'
import { csvList } from '../core/config.js'
import { streamEvents } from '../core/event-stream.js'
import { escapeHtml } from '../core/html.js'
import { isIsoTime } from '../core/iso-time.js'
import { handOverConversation } from '../facebook/thread-control.js'
import { NoConversationError, queuePersonReply } from '../outbox/person-reply.js'
import { totalOf } from '../store/analytics.js'
import { DEFAULT_SETTINGS } from '../store/bot.js'
import type { ListingCursor, StoredMessage } from '../store/conversations.js'
import { verifyConnectLink } from '../tokens/connect-link.js'
import { ASSETS } from './assets.js'
import { barChart } from './chart.js'
import { type ConsoleSession, cookieNames, cookieOptions, sessionOf, startSession } from './session.js'
import {
  type CampaignForm, campaignsView, campaignView, consolePage, conversationList, conversationPath, conversationView, money, overview,
  type Section, signedOutPage
} from './views.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the console session of a request under /console (every route but /open and the assets has one) */
    consoleSession: ConsoleSession | null
  }
}

// Scripts, styles and event streams from this origin only; nothing inline, no frames, forms post back here.
const CONSOLE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
const LIST_SIZE = 50
const CONVERSATION_POLL_MS = 1000
const CAMPAIGN_POLL_MS = 500
const RESULT_DAYS = 30
const DAY_MS = 86_400_000

const NoAssetError = createError('MSB_NOT_FOUND', 'Not found.', 404)
const BadTimeError = createError('MSB_CAMPAIGN_SCHEDULE', 'The start time is not a date and time.', 400)

const GraphId = Type.String({ pattern: '^[0-9]{1,32}$' })
const ConversationParams = Type.Object({ pageId: GraphId, psid: GraphId })
const CampaignParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) })
const Csrf = { _csrf: Type.Optional(Type.String({ maxLength: 200 })) }
const CampaignFields = {
  name: Type.Optional(Type.String({ maxLength: 200 })),
  text: Type.Optional(Type.String({ maxLength: 640 })),
  q: Type.Optional(Type.String({ maxLength: 200 })),
  productIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
  pageIds: Type.Optional(Type.Array(GraphId, { maxItems: 100 })),
  hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 })),
  discountCode: Type.Optional(Type.Union([Type.Literal(''), Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })]))
}

const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10)
const session = (request: FastifyRequest) => request.consoleSession!

/** A listing cursor as a link carries it, and back; anything else starts from the top. */
const encodeCursor = (cursor: ListingCursor) => Buffer.from(JSON.stringify([cursor.at, cursor.pageId, cursor.psid])).toString('base64url')
function decodeCursor (text: string | undefined): ListingCursor | undefined {
  if (text === undefined) return undefined
  try {
    const [at, pageId, psid] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[]
    if ((at === null || isIsoTime(at)) && typeof pageId === 'string' && /^[0-9]{1,32}$/.test(pageId) && typeof psid === 'string' && /^[0-9]{1,32}$/.test(psid)) {
      return { at: at as string | null, pageId, psid }
    }
  } catch {}
  return undefined
}

/**
 * The shop owner's console: server-rendered pages behind a browser session that the connect link starts (a signed,
 * HttpOnly cookie bound to the workspace), every change a POST with a CSRF token bound to that session. It calls the
 * same store and actions as the admin API, never the admin API itself.
 */
const consolePlugin: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, stateToken, campaigns, graph } = fastify
  const secure = config.secureCookies
  const names = cookieNames(secure)
  const llm = config.features.llm
  const shopify = config.features.shopify
  const streams = new Set<() => void>()
  fastify.addHook('onClose', async () => { for (const end of streams) end() })

  await fastify.register(formbody, { bodyLimit: 16_384 })
  await fastify.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: names.csrf,
    cookieOpts: { ...cookieOptions(secure), sameSite: 'strict' },
    // Bound to the session: a token from one session (or workspace) is refused in another.
    csrfOpts: { hmacKey: Buffer.from(hkdfSync('sha256', csvList(config.STATE_TOKEN_SECRET)[0]!, '', 'msb console csrf', 32)) },
    getUserInfo: request => `${request.consoleSession?.workspace ?? ''}.${request.consoleSession?.nonce ?? ''}`
  })
  fastify.decorateRequest('consoleSession', null)

  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('content-security-policy', CONSOLE_POLICY).header('cache-control', 'no-store')
    const path = request.url.split('?')[0]!
    if (path === '/console/open' || path.startsWith('/console/assets/')) return
    request.consoleSession = sessionOf(stateToken, request, secure) ?? null
    if (request.consoleSession === null) return reply.code(401).type('text/html; charset=utf-8').send(signedOutPage())
  })
  const csrfCheck = { preHandler: fastify.csrfProtection }

  function page (request: FastifyRequest, reply: FastifyReply, title: string, section: Section | undefined,
    body: (csrf: string) => string, status = 200) {
    const { workspace, nonce } = session(request)
    const token = reply.generateCsrf({ userInfo: `${workspace}.${nonce}` })
    return reply.code(status).type('text/html; charset=utf-8').send(consolePage(title, section, workspace, token, body(token)))
  }

  fastify.get('/open', {
    schema: { querystring: Type.Object({ link: Type.Optional(Type.String({ maxLength: 1024 })) }) },
    onRequest: fastify.clientRateLimit
  }, async (request, reply) => {
    const { workspace } = verifyConnectLink(fastify, request.query.link)
    startSession(stateToken, reply, workspace, secure)
    request.log.info({ workspace }, 'console session started')
    return reply.redirect('/console', 303)
  })

  fastify.get('/assets/:file', { schema: { params: Type.Object({ file: Type.String({ maxLength: 40 }) }) } }, async (request, reply) => {
    const asset = ASSETS[request.params.file]
    if (asset === undefined || !Object.hasOwn(ASSETS, request.params.file)) throw new NoAssetError()
    reply.header('cache-control', 'public, max-age=300').header('etag', asset.etag).type(asset.type)
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
    return reply.send(asset.body)
  })

  fastify.post('/sign-out', { ...csrfCheck, schema: { body: Type.Object(Csrf) } }, async (_request, reply) => {
    reply.clearCookie(names.session, cookieOptions(secure)).clearCookie(names.csrf, cookieOptions(secure))
    return reply.type('text/html; charset=utf-8').send(signedOutPage())
  })

  fastify.get('/', async (request, reply) => {
    const { workspace } = session(request)
    const now = Date.now()
    const [pages, shop, settings, days] = await Promise.all([
      store.pages.list(workspace),
      shopify ? store.shops.ofWorkspace(workspace) : undefined,
      store.bot.settings(workspace),
      store.analytics.days(workspace, dayOf(now - 6 * DAY_MS), dayOf(now))
    ])
    const data = { pages, shop, settings: settings ?? DEFAULT_SETTINGS, llm, today: totalOf(days.slice(-1)), week: totalOf(days) }
    return page(request, reply, 'Overview', 'overview', () => overview(data))
  })

  fastify.get('/conversations', {
    schema: { querystring: Type.Object({ after: Type.Optional(Type.String({ maxLength: 300 })) }) }
  }, async (request, reply) => {
    const after = decodeCursor(request.query.after)
    const options = { limit: LIST_SIZE, ...(after === undefined ? {} : { after }) }
    const conversations = await store.conversations.listing(session(request).workspace, options)
    const last = conversations.at(-1)
    const next = conversations.length === LIST_SIZE && last !== undefined
      ? encodeCursor({ at: last.lastCustomerMessageAt, pageId: last.pageId, psid: last.psid })
      : undefined
    return page(request, reply, 'Conversations', 'conversations', () => conversationList(conversations, next))
  })

  async function conversationOf (request: FastifyRequest, { pageId, psid }: { pageId: string, psid: string }) {
    const [found] = await store.conversations.listing(session(request).workspace, { limit: 1, pageId, psid })
    if (found === undefined) throw new NoConversationError()
    return found
  }

  const NOTICES: Record<string, string> = {
    sent: 'Your reply is on its way.',
    'taken-over': 'You have the conversation: the bot stays quiet until you hand it back.',
    'handed-back': 'The bot answers this customer again.'
  }
  fastify.get('/conversations/:pageId/:psid', {
    schema: { params: ConversationParams, querystring: Type.Object({ notice: Type.Optional(Type.String({ maxLength: 20 })) }) }
  }, async (request, reply) => {
    const conversation = await conversationOf(request, request.params)
    const messages = await store.conversations.messages(conversation.pageId, conversation.psid)
    const notice = request.query.notice === undefined ? undefined : NOTICES[request.query.notice]
    return page(request, reply, `Customer ${conversation.psid}`, 'conversations',
      csrf => conversationView(conversation, messages, csrf, notice))
  })

  // New messages of the conversation as they are stored (by whichever replica), as Server-Sent Events.
  fastify.get('/conversations/:pageId/:psid/events', { schema: { params: ConversationParams } }, async (request, reply) => {
    const { pageId, psid } = await conversationOf(request, request.params)
    let last: StoredMessage | undefined = (await store.conversations.messages(pageId, psid)).at(-1)
    const poll = async () => {
      const fresh = await store.conversations.messages(pageId, psid, last === undefined ? undefined : { at: last.at, mid: last.mid })
      if (fresh.length === 0) return {}
      last = fresh.at(-1)
      return { data: fresh }
    }
    streamEvents(reply, {
      event: 'messages',
      open: streams,
      pollMs: CONVERSATION_POLL_MS,
      poll,
      onError: err => request.log.warn({ err }, 'conversation not read')
    })
  })

  fastify.post('/conversations/:pageId/:psid/reply', {
    ...csrfCheck,
    schema: { params: ConversationParams, body: Type.Object({ ...Csrf, text: Type.String({ minLength: 1, maxLength: 2000 }) }) }
  }, async (request, reply) => {
    const { pageId, psid } = request.params
    const queued = await queuePersonReply({ store, outbox: fastify.outbox, humanAgent: config.MESSENGER_HUMAN_AGENT },
      { workspace: session(request).workspace, pageId, psid, text: request.body.text, requestId: request.id })
    request.log.info({ outboxId: queued.id, pageId }, "a person's reply queued from the console")
    return reply.redirect(`${conversationPath({ pageId, psid })}?notice=sent`, 303)
  })

  for (const [action, toHuman, notice] of [['take-over', true, 'taken-over'], ['hand-back', false, 'handed-back']] as const) {
    const schema = { params: ConversationParams, body: Type.Object(Csrf) }
    fastify.post(`/conversations/:pageId/:psid/${action}`, { ...csrfCheck, schema },
      async (request, reply) => {
        const { pageId, psid } = request.params
        const moved = await handOverConversation(graph, store, request.log,
          { workspace: session(request).workspace, pageId, psid, toHuman, note: 'Taken over in the console.' })
        if (!moved) throw new NoConversationError()
        return reply.redirect(`${conversationPath({ pageId, psid })}?notice=${notice}`, 303)
      })
  }

  async function campaignsPage (request: FastifyRequest, reply: FastifyReply, form: CampaignForm, problem?: string) {
    const { workspace } = session(request)
    const shop = shopify ? await store.shops.nameOf(workspace) : undefined
    const [list, pages, found, picked] = await Promise.all([
      store.campaigns.list(workspace),
      store.pages.list(workspace),
      shop === undefined || form.q === '' ? [] : store.catalog.search(shop, form.q, { limit: 10 }),
      shop === undefined || form.productIds.length === 0 ? [] : store.catalog.byIds(shop, form.productIds.slice(0, 10))
    ])
    // Products already picked stay on the form, found or not by the latest search.
    const products = [...picked, ...found.filter(hit => !picked.some(product => product.id === hit.id))]
    const progress = await Promise.all(list.map(campaign => campaigns.progress(campaign)))
    return page(request, reply, 'Campaigns', 'campaigns',
      csrf => campaignsView({
        campaigns: progress, pages, products, form, csrf, shop: shop !== undefined, ...(problem === undefined ? {} : { problem })
      }),
      problem === undefined ? 200 : 400)
  }

  const formOf = (fields: Partial<CampaignForm>): CampaignForm => ({
    name: fields.name ?? '',
    text: fields.text ?? '',
    q: fields.q ?? '',
    productIds: fields.productIds ?? [],
    pageIds: fields.pageIds ?? [],
    hours: fields.hours ?? 24,
    discountCode: fields.discountCode ?? ''
  })

  fastify.get('/campaigns', { schema: { querystring: Type.Object({ ...CampaignFields, ...Csrf }) } },
    async (request, reply) => campaignsPage(request, reply, formOf(request.query)))

  fastify.post('/campaigns', { ...csrfCheck, schema: { body: Type.Object({ ...CampaignFields, ...Csrf }) } }, async (request, reply) => {
    const form = formOf(request.body)
    if (form.name.trim() === '' || form.text.trim() === '') {
      return campaignsPage(request, reply, form, 'A campaign needs a name and a message.')
    }
    if (form.productIds.length > 10) return campaignsPage(request, reply, form, 'Pick at most 10 products.')
    try {
      const campaign = await campaigns.create(session(request).workspace, {
        name: form.name.trim(),
        text: form.text,
        productIds: [...new Set(form.productIds)],
        pageIds: form.pageIds.length === 0 ? null : [...new Set(form.pageIds)],
        audienceHours: form.hours,
        discountCode: form.discountCode === '' ? null : form.discountCode
      })
      return reply.redirect(`/console/campaigns/${campaign.id}`, 303)
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 400) return campaignsPage(request, reply, form, (err as Error).message)
      throw err
    }
  })

  fastify.get('/campaigns/:id', { schema: { params: CampaignParams } }, async (request, reply) => {
    const campaign = await campaigns.found(session(request).workspace, request.params.id)
    const progress = await campaigns.progress(campaign)
    return page(request, reply, campaign.name, 'campaigns', csrf => campaignView(campaign, progress, csrf))
  })

  fastify.get('/campaigns/:id/events', { schema: { params: CampaignParams } }, async (request, reply) => {
    streamEvents(reply, {
      event: 'progress',
      open: streams,
      pollMs: CAMPAIGN_POLL_MS,
      ...await progressEvents(campaigns, session(request).workspace, request.params.id),
      onError: err => request.log.warn({ err }, 'campaign progress not read')
    })
  })

  for (const action of CAMPAIGN_ACTIONS) {
    fastify.post(`/campaigns/:id/${action}`, {
      ...csrfCheck,
      schema: { params: CampaignParams, body: Type.Object({ ...Csrf, at: Type.Optional(Type.String({ maxLength: 40 })) }) }
    }, async (request, reply) => {
      const { id } = request.params
      // A datetime-local field has no zone: the form says its time is UTC.
      const at = action === 'start' && request.body.at !== undefined ? new Date(`${request.body.at}Z`) : undefined
      if (at !== undefined && Number.isNaN(at.getTime())) throw new BadTimeError()
      await campaigns.act(session(request).workspace, id, action, at)
      return reply.redirect(`/console/campaigns/${id}`, 303)
    })
  }

  fastify.get('/results', async (request, reply) => {
    const now = Date.now()
    const days = await store.analytics.days(session(request).workspace, dayOf(now - (RESULT_DAYS - 1) * DAY_MS), dayOf(now))
    const totals = totalOf(days)
    const currency = totals.revenue.slice().sort((a, b) => Number(b.amount) - Number(a.amount))[0]?.currency
    const revenueOf = (day: typeof days[number]) => Number(day.revenue.find(r => r.currency === currency)?.amount ?? 0)
    const chart = barChart(`The last ${RESULT_DAYS} days, per UTC day: conversations started, clicks, orders and revenue`,
      days.map(day => day.date), [
        { name: 'Conversations', values: days.map(day => day.conversations) },
        { name: 'Clicks', values: days.map(day => day.clicks) },
        { name: 'Orders', values: days.map(day => day.orders) },
        { name: `Revenue${currency === undefined ? '' : ` (${currency})`}`, values: days.map(revenueOf), format: value => value.toFixed(2) }
      ])
    const summary = `<table><tbody><tr><th scope="row">Conversations started</th><td class="n">${totals.conversations}</td></tr>` +
      `<tr><th scope="row">Clicks</th><td class="n">${totals.clicks}</td></tr>` +
      `<tr><th scope="row">Orders</th><td class="n">${totals.orders}</td></tr>` +
      `<tr><th scope="row">Revenue</th><td class="n">${escapeHtml(money(totals.revenue))}</td></tr></tbody></table>`
    const body = `<section>${chart}</section><section><h2>Last ${RESULT_DAYS} days</h2>${summary}</section>`
    return page(request, reply, 'Results', 'results', () => body)
  })
}

export default consolePlugin
