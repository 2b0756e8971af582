import { createHash, createHmac, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { request as undiciRequest } from 'undici'
import { MESSENGER_CSS, MESSENGER_JS, messengerPage } from './messenger-ui.js'

async function post (url: string, body: string, headers: Record<string, string>) {
  const res = await undiciRequest(url, { method: 'POST', body, headers })
  return { status: res.statusCode, body: await res.body.text() }
}

/** Meta's signed_request: base64url(HMAC-SHA256(secret, payload)).payload, payload base64url JSON. */
export function signedRequest (secret: string, payload: object, algorithm = 'HMAC-SHA256'): string {
  const body = Buffer.from(JSON.stringify({ algorithm, ...payload })).toString('base64url')
  return `${createHmac('sha256', secret).update(body).digest('base64url')}.${body}`
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** JSON as Meta's webhooks send it: non-ASCII characters escaped as \\uXXXX. */
const metaJson = (value: unknown) => JSON.stringify(value).replace(/[\u007f-\uffff]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

export interface CustomerMessage { pageId: string, psid: string, text: string }

/**
 * Plays Facebook for end-to-end tests and the demo: the Login dialog, the token endpoints and the Graph
 * endpoints the service calls, checking what real Facebook checks (client secret, redirect_uri, PKCE,
 * single-use codes, appsecret_proof).
 */
export interface EmulatedPage { id: string, name: string, category: string, tasks: string[] }

export interface FacebookEmulatorOptions {
  appId: string
  appSecret: string
  host?: string
  port?: number
  /** approve the dialog at once with every scope, as a test client without a browser needs */
  autoApprove?: boolean
  pages?: EmulatedPage[]
  /** Pages per /me/accounts answer, so paging is exercised */
  pageSize?: number
  user?: { id: string, name: string }
  /** the service's base URL: signed webhook deliveries and deauthorize/data-deletion calls go there */
  serviceUrl?: string
}

export interface GraphCallRecord { method: string, path: string, query: Record<string, string> }

/** A message the Send API accepted: what a customer's Messenger would show. */
export interface SentMessage {
  pageId: string
  psid: string
  messagingType: string
  tag?: string
  message: Record<string, unknown>
  messageId: string
  /** when Meta took it (ms since the epoch) */
  at: number
}

export interface SendFailure { status: number, code: number, subcode?: number, message: string }

/** One line of a conversation as the customer's Messenger shows it, in order. */
export type ConversationItem = { seq: number, at: number } & (
  | { from: 'customer', text: string, payload?: string }
  | { from: 'page', message: Record<string, unknown>, messageId: string }
  | { from: 'page', senderAction: string }
)

/** What the customer did: wrote, tapped a quick reply (its title and payload), or tapped a postback button. */
export type CustomerEvent =
  | { text: string, quickReply?: string }
  | { postback: { title: string, payload: string } }

const PAGE_INBOX_APP_ID = 263902037430900
const SENDER_ACTIONS = new Set(['mark_seen', 'typing_on', 'typing_off'])

const HOUR_MS = 3_600_000
const MESSAGING_TYPES = new Set(['RESPONSE', 'UPDATE', 'MESSAGE_TAG'])

/** What Meta refuses in a Send API message (limits of the text, the generic template and quick replies). */
function invalidMessage (message: Record<string, unknown> | undefined): string | undefined {
  if (message === undefined) return 'message is required'
  if (typeof message.text === 'string' && [...message.text].length > 2000) return 'text is longer than 2000 characters'
  type Template = { payload?: { template_type?: string, elements?: Array<Record<string, unknown>> } }
  const payload = (message.attachment as Template | undefined)?.payload
  if (payload?.template_type === 'generic') {
    const elements = payload.elements ?? []
    if (elements.length === 0 || elements.length > 10) return 'a generic template has 1 to 10 elements'
    for (const element of elements) {
      if ([...String(element.title ?? '')].length > 80 || [...String(element.subtitle ?? '')].length > 80) return 'title and subtitle are at most 80 characters'
      if (Array.isArray(element.buttons) && element.buttons.length > 3) return 'at most 3 buttons'
    }
  }
  const quickReplies = message.quick_replies
  if (Array.isArray(quickReplies)) {
    if (quickReplies.length > 13) return 'at most 13 quick replies'
    if (quickReplies.some(reply => [...String(reply?.title ?? '')].length > 20)) return 'a quick reply title is at most 20 characters'
  }
  return undefined
}

interface Grant { redirectUri: string, challenge: string, scopes: string[], used: boolean }

export const DEFAULT_PAGES: EmulatedPage[] = [
  { id: '104000000000001', name: 'Corner Bakery', category: 'Bakery', tasks: ['ANALYZE', 'ADVERTISE', 'MESSAGING', 'MODERATE', 'CREATE_CONTENT', 'MANAGE'] },
  { id: '104000000000002', name: 'Corner Bakery Outlet', category: 'Shopping & retail', tasks: ['MESSAGING', 'MODERATE'] },
  { id: '104000000000003', name: 'Bakery Fan Club', category: 'Community', tasks: ['ANALYZE'] },
  { id: '104000000000004', name: 'Night Market Stall', category: 'Food stand', tasks: ['MESSAGING'] },
  { id: '104000000000005', name: 'Pastry Lab', category: 'Kitchen/cooking', tasks: ['ADVERTISE', 'MESSAGING'] }
]

const escape = (value: string) => value.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

export async function startFacebookEmulator (options: FacebookEmulatorOptions) {
  const pages = options.pages ?? DEFAULT_PAGES
  const pageSize = options.pageSize ?? 2
  const user = options.user ?? { id: '900000000000001', name: 'Emu Owner' }
  const grants = new Map<string, Grant>()
  const tickets = new Map<string, { redirectUri: string, state: string, challenge: string, scopes: string[] }>()
  const tokens = new Map<string, { kind: 'short' | 'long' | 'page', scopes: string[], pageId?: string }>()
  const calls: GraphCallRecord[] = []
  const issued: string[] = []
  const subscribedPages = new Set<string>()
  const sentMessages: SentMessage[] = []
  const threadControl: Array<{ pageId: string, psid: string, action: 'pass' | 'take', targetAppId?: number }> = []
  const senderActions: Array<{ pageId: string, psid: string, action: string }> = []
  const profiles = new Map<string, Record<string, unknown>>()
  const timeline: ConversationItem[] = []
  const timelineOf = new Map<string, ConversationItem[]>()
  /** conversations the Page Inbox holds (Conversation Routing): their messages reach the app on standby */
  const withPageInbox = new Set<string>()
  const lastCustomerMessage = new Map<string, number>()
  const failures = new Map<string, SendFailure>()
  let delayMs = 0
  let baseUrl = ''

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  const graphError = (res: ServerResponse, status: number, code: number, message: string, subcode?: number) =>
    json(res, status, { error: { message, type: 'OAuthException', code, ...(subcode === undefined ? {} : { error_subcode: subcode }), fbtrace_id: randomBytes(6).toString('hex') } })
  const redirect = (res: ServerResponse, location: string) => res.writeHead(302, { location }).end()
  const newToken = (kind: 'short' | 'long' | 'page', scopes: string[], pageId?: string) => {
    const token = `EAA${kind}${randomBytes(24).toString('base64url')}`
    tokens.set(token, { kind, scopes, ...(pageId === undefined ? {} : { pageId }) })
    issued.push(token)
    return token
  }
  const withQuery = (url: string, params: Record<string, string>) => `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(params)}`

  /** The user's token, when it is valid and carries a valid appsecret_proof; otherwise answers the error. */
  function authorize (query: Record<string, string>, res: ServerResponse) {
    const token = query.access_token
    const grant = token === undefined ? undefined : tokens.get(token)
    if (token === undefined || grant === undefined || grant.kind === 'short') {
      graphError(res, 400, 190, 'Invalid OAuth access token.')
      return undefined
    }
    const proof = createHmac('sha256', options.appSecret).update(token).digest('hex')
    if (query.appsecret_proof !== proof) {
      graphError(res, 400, 100, 'Invalid appsecret_proof provided in the API argument')
      return undefined
    }
    return grant
  }

  function dialog (query: Record<string, string>, res: ServerResponse) {
    const scopes = (query.scope ?? 'public_profile').split(',')
    if (query.client_id !== options.appId || query.response_type !== 'code' || !query.redirect_uri || !query.state ||
      !query.code_challenge || query.code_challenge_method !== 'S256') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Invalid dialog request')
      return
    }
    const ticket = { redirectUri: query.redirect_uri, state: query.state, challenge: query.code_challenge, scopes }
    if (options.autoApprove) return redirect(res, approve(ticket, scopes))
    const id = randomBytes(12).toString('hex')
    tickets.set(id, ticket)
    const boxes = scopes.map(scope =>
      `<label><input type="checkbox" name="granted" value="${escape(scope)}" checked> ${escape(scope)}</label><br>`).join('')
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><title>Log in with Facebook (emulator)</title><h1>Continue as ${escape(user.name)}?</h1>` +
      `<form method="get" action="/dialog/decide"><input type="hidden" name="ticket" value="${id}">${boxes}` +
      '<button name="decision" value="allow">Continue</button> <button name="decision" value="deny">Cancel</button></form>')
  }

  function approve (ticket: { redirectUri: string, state: string, challenge: string }, granted: string[]) {
    const code = `AQ${randomBytes(32).toString('base64url')}`
    issued.push(code)
    grants.set(code, { redirectUri: ticket.redirectUri, challenge: ticket.challenge, scopes: granted, used: false })
    return withQuery(ticket.redirectUri, { code, state: ticket.state })
  }

  function decide (url: URL, res: ServerResponse) {
    const ticket = tickets.get(url.searchParams.get('ticket') ?? '')
    if (ticket === undefined) return res.writeHead(400).end('Unknown dialog')
    tickets.delete(url.searchParams.get('ticket')!)
    if (url.searchParams.get('decision') !== 'allow') {
      return redirect(res, withQuery(ticket.redirectUri, {
        error: 'access_denied', error_code: '200', error_reason: 'user_denied', error_description: 'Permissions error', state: ticket.state
      }))
    }
    redirect(res, approve(ticket, url.searchParams.getAll('granted')))
  }

  function accessToken (query: Record<string, string>, res: ServerResponse) {
    if (query.client_id !== options.appId || query.client_secret !== options.appSecret) {
      return graphError(res, 400, 1, 'Error validating client secret.')
    }
    if (query.grant_type === 'fb_exchange_token') {
      const short = tokens.get(query.fb_exchange_token ?? '')
      if (short === undefined) return graphError(res, 400, 190, 'Invalid OAuth access token.')
      return json(res, 200, { access_token: newToken('long', short.scopes), token_type: 'bearer', expires_in: 5183944 })
    }
    const grant = grants.get(query.code ?? '')
    if (grant === undefined) return graphError(res, 400, 100, 'Invalid verification code format.', 36008)
    if (grant.used) return graphError(res, 400, 100, 'This authorization code has been used.', 36009)
    grant.used = true
    if (query.redirect_uri !== grant.redirectUri) {
      return graphError(res, 400, 100, 'Error validating verification code. Please make sure your redirect_uri is identical.', 36008)
    }
    const challenge = createHash('sha256').update(query.code_verifier ?? '').digest('base64url')
    if (challenge !== grant.challenge) return graphError(res, 400, 100, 'Invalid code verifier.')
    json(res, 200, { access_token: newToken('short', grant.scopes), token_type: 'bearer', expires_in: 5400 })
  }

  function record (pageId: string, psid: string, item: DistributiveOmit<ConversationItem, 'seq' | 'at'>) {
    const entry = { ...item, seq: timeline.length + 1, at: Date.now() } as ConversationItem
    timeline.push(entry)
    const key = `${pageId}:${psid}`
    timelineOf.set(key, [...timelineOf.get(key) ?? [], entry])
  }

  function accounts (query: Record<string, string>, res: ServerResponse, token: string, version: string, scopes: string[]) {
    const start = Number(query.after === undefined ? 0 : Buffer.from(query.after, 'base64url').toString())
    const slice = pages.slice(start, start + pageSize)
    const data = slice.map(page => ({ ...page, access_token: newToken('page', scopes, page.id) }))
    const end = start + slice.length
    const cursors = { before: Buffer.from(String(start)).toString('base64url'), after: Buffer.from(String(end)).toString('base64url') }
    const next = end < pages.length
      ? { next: withQuery(`${baseUrl}/${version}/me/accounts`, { access_token: token, limit: String(pageSize), after: cursors.after }) }
      : {}
    json(res, 200, { data, paging: { cursors, ...next } })
  }

  async function handle (req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://emulator')
    // Graph takes parameters in the query or, as OAuth clients send them, a form-encoded POST body.
    const query = { ...Object.fromEntries(url.searchParams), ...Object.fromEntries(new URLSearchParams(await formBody(req))) }
    if (url.pathname === '/dialog/decide') return decide(url, res)
    if (url.pathname === '/emulator/send-message') {
      const status = await deliverMessage(url.searchParams.get('page') ?? pages[0]!.id, url.searchParams.get('psid') ?? '2400000000000001', url.searchParams.get('text') ?? 'Hello! 👋')
      return json(res, 200, { delivered: status === 200, status })
    }
    if (url.pathname.startsWith('/emulator/messenger')) return messengerUi(req, url, res)
    if (url.pathname === '/emulator/deauthorize') return json(res, 200, await deauthorize())
    if (url.pathname === '/emulator/data-deletion') return json(res, 200, await requestDataDeletion())
    const match = /^\/(v\d+\.\d)(\/.*)$/.exec(url.pathname)
    if (match === null) return json(res, 404, { error: { message: 'Unknown path', type: 'GraphMethodException', code: 803 } })
    const [, version, path] = match as unknown as [string, string, string]
    if (path === '/dialog/oauth') return dialog(query, res)

    calls.push({ method: req.method ?? 'GET', path, query })
    // unref'd: a slow answer nobody waits for any more must not keep a finished test's process alive
    if (delayMs > 0) await sleep(delayMs, undefined, { ref: false })
    if (path === '/oauth/access_token') return accessToken(query, res)
    const grant = authorize(query, res)
    if (grant === undefined) return
    if (path === '/me') return json(res, 200, user)
    if (path === '/me/permissions') {
      return json(res, 200, { data: grant.scopes.map(permission => ({ permission, status: 'granted' })) })
    }
    if (path === '/me/accounts') return accounts(query, res, query.access_token!, version, grant.scopes)
    if (path === '/me/messenger_profile' && req.method === 'POST' && grant.kind === 'page') {
      return messengerProfile(grant, await jsonBody(req), res)
    }
    const pageCall = /^\/(\d+)\/(messages|pass_thread_control|take_thread_control)$/.exec(path)
    if (pageCall !== null && req.method === 'POST' && grant.kind === 'page') {
      if (grant.pageId !== pageCall[1]) return graphError(res, 400, 190, 'The access token is not for this Page.')
      if (!grant.scopes.includes('pages_messaging')) return graphError(res, 403, 10, 'Requires pages_messaging permission.')
      return pageAction(pageCall[1]!, pageCall[2]!, await jsonBody(req), res)
    }
    const subscription = /^\/(\d+)\/subscribed_apps$/.exec(path)
    if (subscription !== null && grant.kind === 'page') {
      if (req.method === 'DELETE') subscribedPages.delete(subscription[1]!)
      else subscribedPages.add(subscription[1]!)
      return json(res, 200, { success: true })
    }
    json(res, 404, { error: { message: 'Unknown path', type: 'GraphMethodException', code: 803 } })
  }

  /** The demo's Messenger: its page and files, the conversation as JSON, and what the customer does. */
  async function messengerUi (req: IncomingMessage, url: URL, res: ServerResponse) {
    const page = url.searchParams.get('page') ?? pages[0]!.id
    const psid = url.searchParams.get('psid') ?? `24000000${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`
    const send = (type: string, body: string) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
    switch (url.pathname) {
      case '/emulator/messenger': return send('text/html; charset=utf-8', messengerPage(pages, psid, page))
      case '/emulator/messenger.js': return send('text/javascript; charset=utf-8', MESSENGER_JS)
      case '/emulator/messenger.css': return send('text/css; charset=utf-8', MESSENGER_CSS)
      case '/emulator/messenger/conversation':
        return json(res, 200, { items: timelineOf.get(`${page}:${psid}`) ?? [], withPageInbox: withPageInbox.has(`${page}:${psid}`) })
    }
    if (req.method !== 'POST') return json(res, 404, { error: 'unknown' })
    const body = await jsonBody(req)
    const target = { pageId: String(body.page ?? ''), psid: String(body.psid ?? '') }
    if (!pages.some(known => known.id === target.pageId) || !/^\d{1,20}$/.test(target.psid)) return json(res, 400, { error: 'page and psid' })
    if (url.pathname === '/emulator/messenger/hand-back') return json(res, 200, { status: await handBack(target.pageId, target.psid) })
    const postback = body.postback as { title?: unknown, payload?: unknown } | undefined
    const event: CustomerEvent = postback !== undefined
      ? { postback: { title: String(postback.title ?? ''), payload: String(postback.payload ?? '') } }
      : { text: String(body.text ?? '').slice(0, 2000), ...(typeof body.quickReply === 'string' ? { quickReply: body.quickReply } : {}) }
    json(res, 200, { status: await deliverEvents([{ ...target, event }]) })
  }

  /** The Messenger Profile: the Get Started button and the greeting, as Meta checks them. */
  function messengerProfile (grant: { scopes: string[], pageId?: string }, body: Record<string, unknown>, res: ServerResponse) {
    if (!grant.scopes.includes('pages_messaging')) return graphError(res, 403, 10, 'Requires pages_messaging permission.')
    const payload = (body.get_started as { payload?: unknown } | undefined)?.payload
    if (body.get_started !== undefined && (typeof payload !== 'string' || payload.length > 1000)) {
      return graphError(res, 400, 100, 'get_started.payload is a string of at most 1000 characters')
    }
    const greeting = body.greeting
    if (greeting !== undefined && (!Array.isArray(greeting) ||
      greeting.some(item => typeof item?.locale !== 'string' || typeof item?.text !== 'string' || [...item.text].length > 160))) {
      return graphError(res, 400, 100, 'greeting is a list of { locale, text } with text of at most 160 characters')
    }
    profiles.set(grant.pageId!, { ...profiles.get(grant.pageId!), ...body })
    json(res, 200, { result: 'success' })
  }

  /** The Send API and Conversation Routing, checking what Meta checks: the window, the only tag left, the limits. */
  function pageAction (pageId: string, action: string, body: Record<string, unknown>, res: ServerResponse) {
    const psid = String((body.recipient as { id?: unknown } | undefined)?.id ?? '')
    if (psid === '') return graphError(res, 400, 100, 'The parameter recipient is required')
    const conversation = `${pageId}:${psid}`
    if (action !== 'messages') {
      const targetAppId = typeof body.target_app_id === 'number' ? body.target_app_id : undefined
      threadControl.push({ pageId, psid, action: action === 'pass_thread_control' ? 'pass' : 'take', ...(targetAppId === undefined ? {} : { targetAppId }) })
      if (action === 'take_thread_control') withPageInbox.delete(conversation)
      else if (targetAppId === PAGE_INBOX_APP_ID) withPageInbox.add(conversation)
      return json(res, 200, { success: true })
    }
    const failure = failures.get(psid)
    if (failure !== undefined) {
      failures.delete(psid)
      return graphError(res, failure.status, failure.code, failure.message, failure.subcode)
    }
    const since = Date.now() - (lastCustomerMessage.get(conversation) ?? 0)
    if (body.sender_action !== undefined) {
      if (!SENDER_ACTIONS.has(String(body.sender_action)) || body.message !== undefined) {
        return graphError(res, 400, 100, 'sender_action is mark_seen, typing_on or typing_off, alone in its request')
      }
      if (since > 24 * HOUR_MS) return graphError(res, 400, 10, 'This message is sent outside of allowed window.', 2018278)
      senderActions.push({ pageId, psid, action: String(body.sender_action) })
      record(pageId, psid, { from: 'page', senderAction: String(body.sender_action) })
      return json(res, 200, { recipient_id: psid })
    }
    const messagingType = String(body.messaging_type ?? '')
    if (!MESSAGING_TYPES.has(messagingType)) return graphError(res, 400, 100, 'Invalid messaging_type')
    if (body.tag !== undefined && (messagingType !== 'MESSAGE_TAG' || body.tag !== 'HUMAN_AGENT')) {
      return graphError(res, 400, 100, 'This message tag is not supported')
    }
    if (messagingType === 'MESSAGE_TAG' && body.tag === undefined) return graphError(res, 400, 100, 'A tag is required with MESSAGE_TAG')
    const allowed = messagingType === 'MESSAGE_TAG' ? 7 * 24 * HOUR_MS : 24 * HOUR_MS
    if (since > allowed) return graphError(res, 400, 10, 'This message is sent outside of allowed window.', 2018278)
    const invalid = invalidMessage(body.message as Record<string, unknown> | undefined)
    if (invalid !== undefined) return graphError(res, 400, 100, invalid)
    const messageId = `m_${randomBytes(12).toString('base64url')}`
    const message = body.message as Record<string, unknown>
    const tag = typeof body.tag === 'string' ? { tag: body.tag } : {}
    sentMessages.push({ pageId, psid, messagingType, ...tag, message, messageId, at: Date.now() })
    record(pageId, psid, { from: 'page', message, messageId })
    json(res, 200, { recipient_id: psid, message_id: messageId })
  }

  async function jsonBody (req: IncomingMessage): Promise<Record<string, unknown>> {
    let body = ''
    for await (const chunk of req) {
      body += chunk
      if (body.length > 1_048_576) throw new Error('body too large')
    }
    try {
      const parsed = JSON.parse(body) as unknown
      return typeof parsed === 'object' && parsed !== null ? parsed as Record<string, unknown> : {}
    } catch {
      return {}
    }
  }

  async function formBody (req: IncomingMessage): Promise<string> {
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return ''
    let body = ''
    for await (const chunk of req) {
      body += chunk
      if (body.length > 65536) throw new Error('form body too large')
    }
    return body
  }

  let serviceUrl = options.serviceUrl
  const service = (path: string) => {
    if (serviceUrl === undefined) throw new Error('no serviceUrl configured')
    return `${serviceUrl}${path}`
  }

  /** Posts one signed webhook delivery (as Meta batches them) with these entries. */
  async function deliver (entry: unknown[]): Promise<number> {
    const body = metaJson({ object: 'page', entry })
    const signature = `sha256=${createHmac('sha256', options.appSecret).update(body).digest('hex')}`
    return (await post(service('/messenger/webhook'), body, { 'content-type': 'application/json', 'x-hub-signature-256': signature })).status
  }

  /** What customers did, one entry each; while the Page Inbox holds a conversation the app gets it on standby. */
  async function deliverEvents (events: Array<{ pageId: string, psid: string, event: CustomerEvent }>): Promise<number> {
    const now = Date.now()
    return deliver(events.map(({ pageId, psid, event }) => {
      const conversation = `${pageId}:${psid}`
      lastCustomerMessage.set(conversation, now)
      const mid = `m_${randomBytes(12).toString('base64url')}`
      const common = { sender: { id: psid }, recipient: { id: pageId }, timestamp: now }
      let item
      if ('postback' in event) {
        item = { ...common, postback: { mid, ...event.postback } }
        record(pageId, psid, { from: 'customer', text: event.postback.title, payload: event.postback.payload })
      } else {
        const quickReply = event.quickReply === undefined ? {} : { quick_reply: { payload: event.quickReply } }
        item = { ...common, message: { mid, text: event.text, ...quickReply } }
        record(pageId, psid, { from: 'customer', text: event.text, ...(event.quickReply === undefined ? {} : { payload: event.quickReply }) })
      }
      return { id: pageId, time: now, [withPageInbox.has(conversation) ? 'standby' : 'messaging']: [item] }
    }))
  }

  const deliverMessages = (messages: CustomerMessage[]) =>
    deliverEvents(messages.map(({ pageId, psid, text }) => ({ pageId, psid, event: { text } })))
  const deliverMessage = async (pageId: string, psid: string, text: string) => deliverMessages([{ pageId, psid, text }])

  /** A person in the Page Inbox is done: the conversation goes back to the app (a messaging_handovers event). */
  async function handBack (pageId: string, psid: string): Promise<number> {
    withPageInbox.delete(`${pageId}:${psid}`)
    const now = Date.now()
    return deliver([{
      id: pageId,
      time: now,
      messaging: [{
        sender: { id: psid },
        recipient: { id: pageId },
        timestamp: now,
        pass_thread_control: { previous_owner_app_id: PAGE_INBOX_APP_ID, new_owner_app_id: Number(options.appId), metadata: 'Done in the Page Inbox' }
      }]
    }])
  }

  /** Meta's user-data callbacks: a form with the user's signed_request, as when they remove the app. */
  async function userDataCallback (path: string) {
    const signed = signedRequest(options.appSecret, { user_id: user.id, issued_at: Math.floor(Date.now() / 1000) })
    const form = new URLSearchParams({ signed_request: signed })
    const answer = await post(service(path), form.toString(), { 'content-type': 'application/x-www-form-urlencoded' })
    return { status: answer.status, body: answer.body === '' ? null : JSON.parse(answer.body) as unknown }
  }
  const deauthorize = () => userDataCallback('/facebook/deauthorize')
  const requestDataDeletion = () => userDataCallback('/facebook/data-deletion')

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end())
  })
  await new Promise<void>(resolve => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`

  return {
    url: baseUrl,
    pages,
    /** Graph and token calls received, in order (dialog pages excluded) */
    calls,
    /** Pages currently subscribed to the app's webhook */
    subscribedPages,
    /** what the Send API accepted, in order */
    sentMessages,
    /** pass_thread_control and take_thread_control calls, in order */
    threadControl,
    /** mark_seen, typing_on and typing_off calls, in order */
    senderActions,
    /** each Page's Messenger Profile (get_started, greeting) as last set */
    profiles,
    /** a conversation as the customer's Messenger shows it: what they did and what the Page sent, in order */
    conversation: (pageId: string, psid: string) => timelineOf.get(`${pageId}:${psid}`) ?? [],
    /** whether the Page Inbox holds the conversation (passed to it and not taken back) */
    withPageInbox: (pageId: string, psid: string) => withPageInbox.has(`${pageId}:${psid}`),
    deliverEvents,
    handBack,
    /** the next message to `psid` is refused with this Graph error */
    failNext (psid: string, failure: SendFailure) { failures.set(psid, failure) },
    deliverMessage,
    deliverMessages,
    /** the user removed the app: Meta's signed deauthorize callback */
    deauthorize,
    /** the user asked for their data to be deleted: Meta's signed data-deletion callback */
    requestDataDeletion,
    /** every code and token handed out, for tests that check none leaks */
    issued,
    /** where webhook deliveries and user-data callbacks go from now on */
    setServiceUrl (url: string) { serviceUrl = url },
    /** delays every Graph answer, to play a slow Facebook */
    setDelay (ms: number) { delayMs = ms },
    close: () => new Promise<void>(resolve => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

export type FacebookEmulator = Awaited<ReturnType<typeof startFacebookEmulator>>
