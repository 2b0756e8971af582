import type { CampaignProgress } from '../campaigns/index.js'
import { escapeHtml } from '../core/html.js'
import { carouselCards } from '../outbox/sent-text.js'
import type { DayFigures } from '../store/analytics.js'
import type { BotSettings } from '../store/bot.js'
import type { Campaign } from '../store/campaigns.js'
import type { ProductHit } from '../store/catalog.js'
import type { ConversationListing, StoredMessage } from '../store/conversations.js'
import type { PageSummary } from '../store/pages.js'
import type { ShopSummary } from '../store/shops.js'

export type Section = 'overview' | 'conversations' | 'campaigns' | 'results'
const SECTIONS: Array<[Section, string, string]> = [
  ['overview', 'Overview', '/console'],
  ['conversations', 'Conversations', '/console/conversations'],
  ['campaigns', 'Campaigns', '/console/campaigns'],
  ['results', 'Results', '/console/results']
]

const e = escapeHtml
const CONNECTED = '<span class="badge open">connected</span>'
const NEEDS_RECONNECT = '<span class="badge out">needs reconnect</span>'
const timeOf = (at: string) => `<time datetime="${e(at)}">${e(at.replace('T', ' ').slice(0, 16))} UTC</time>`
const csrfField = (csrf: string) => `<input type="hidden" name="_csrf" value="${e(csrf)}">`
/** A form of one button that POSTs to `action` (every change is a POST carrying the CSRF token). */
export const actionButton = (action: string, label: string, csrf: string, className = '') =>
  `<form method="post" action="${e(action)}" class="inline">${csrfField(csrf)}` +
  `<button${className === '' ? '' : ` class="${className}"`}>${e(label)}</button></form>`

export function consolePage (title: string, section: Section | undefined, workspace: string, csrf: string, body: string): string {
  const nav = SECTIONS.map(([name, label, href]) =>
    `<a href="${href}"${name === section ? ' aria-current="page"' : ''}>${label}</a>`).join('')
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${e(title)} · ${e(workspace)}</title><link rel="stylesheet" href="/console/assets/console.css">` +
    '<script src="/console/assets/console.js" defer></script></head><body>' +
    `<header><nav aria-label="Console">${nav}${actionButton('/console/sign-out', 'Sign out', csrf, 'secondary')}</nav></header>` +
    `<main id="main"><h1>${e(title)}</h1>${body}</main></body></html>`
}

/** What a person sees without a session: where to go to get one. */
export function signedOutPage (): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    '<title>Open your connect link</title><link rel="stylesheet" href="/console/assets/console.css"></head><body><main id="main">' +
    '<h1>Open your connect link</h1><section><p>Your console session has ended, or this browser has none. ' +
    'Open the connect link you were given again and choose “Open the console”.</p></section></main></body></html>'
}

function pageState (page: PageSummary): string {
  if (page.status === 'needs_reconnect') return '<span class="badge out">needs reconnect</span>'
  return (page.canMessage ? '<span class="badge open">can message</span>' : '<span class="badge out">cannot message</span>') +
    (page.subscribed ? '<span class="badge">subscribed</span>' : '<span class="badge out">not subscribed</span>')
}

const figureRows = (figures: DayFigures) => [
  ['Conversations started', figures.conversations],
  ['Customer messages', figures.customerMessages],
  ['Bot replies', figures.botReplies],
  ['Handed to a person', figures.handovers],
  ['Clicks', figures.clicks],
  ['Orders', figures.orders]
] as Array<[string, number]>

export const money = (revenue: Array<{ amount: string, currency: string }>) =>
  revenue.length === 0 ? '0' : revenue.map(r => `${r.amount} ${r.currency}`).join(', ')

export function overview (data: {
  pages: PageSummary[], shop: ShopSummary | undefined, settings: BotSettings, llm: boolean, today: DayFigures, week: DayFigures
}): string {
  const { pages, shop, settings, today, week } = data
  const pageList = pages.length === 0
    ? '<p class="muted">No Pages connected yet: open your connect link to connect them.</p>'
    : `<ul class="list">${pages.map(page => `<li><strong>${e(page.name)}</strong> ${pageState(page)}</li>`).join('')}</ul>`
  const shopPart = shop === undefined
    ? '<p class="muted">No Shopify store connected.</p>'
    : `<p><strong>${e(shop.shop)}</strong> ${shop.status === 'connected' ? CONNECTED : NEEDS_RECONNECT}` +
      ` ${shop.productCount} products; last sync ${shop.lastSync.at === null ? 'never' : timeOf(shop.lastSync.at)}` +
      `${shop.lastSync.result === null ? '' : ` (${e(shop.lastSync.result)})`}</p>`
  const bot = [
    ['Bot', settings.enabled ? 'on' : 'off'],
    ['Greeting', settings.greeting ?? '(the default)'],
    ['Products per answer', String(settings.maxProducts)],
    ...(data.llm ? [['Language model', settings.llm === false ? 'off' : 'on'], ['Instructions', settings.instructions || '(none)']] : [])
  ].map(([name, value]) => `<tr><th scope="row">${e(name!)}</th><td>${e(value!)}</td></tr>`).join('')
  const numbers = figureRows(today).map(([name, value], i) =>
    `<tr><th scope="row">${name}</th><td class="n">${value}</td><td class="n">${figureRows(week)[i]![1]}</td></tr>`).join('') +
    `<tr><th scope="row">Revenue</th><td class="n">${e(money(today.revenue))}</td><td class="n">${e(money(week.revenue))}</td></tr>`
  return `<section><h2>Pages</h2>${pageList}</section><section><h2>Shop</h2>${shopPart}</section>` +
    `<section><h2>Bot settings</h2><table>${bot}</table></section>` +
    '<section><h2>Numbers</h2><table><thead><tr><th scope="col">UTC days</th><th scope="col" class="n">Today</th>' +
    `<th scope="col" class="n">Last 7 days</th></tr></thead><tbody>${numbers}</tbody></table></section>`
}

export function badges (c: Pick<ConversationListing, 'windowOpen' | 'withHuman' | 'optedOut' | 'unreachable'>): string {
  return (c.windowOpen ? '<span class="badge open">window open</span>' : '<span class="badge">window closed</span>') +
    (c.withHuman ? '<span class="badge human">with a person</span>' : '') +
    (c.optedOut ? '<span class="badge out">opted out</span>' : '') +
    (c.unreachable ? '<span class="badge out">unreachable</span>' : '')
}

export const conversationPath = (c: { pageId: string, psid: string }) => `/console/conversations/${c.pageId}/${c.psid}`

export function conversationList (conversations: ConversationListing[], next: string | undefined): string {
  if (conversations.length === 0) return '<section><p class="muted">No conversations yet.</p></section>'
  const items = conversations.map(c => {
    const last = c.lastMessage === null ? '' : carouselCards(c.lastMessage.text) === undefined ? c.lastMessage.text : 'Products'
    return `<li><a href="${conversationPath(c)}">Customer ${e(c.psid)}</a> on ${e(c.pageName)} ${badges(c)}` +
      `<br><span class="muted">${c.lastMessage?.direction === 'out' ? 'You: ' : ''}${e(last.slice(0, 140))}</span></li>`
  }).join('')
  const more = next === undefined
    ? ''
    : `<p><a href="/console/conversations?after=${e(encodeURIComponent(next))}">Older conversations</a></p>`
  return `<section><ul class="list">${items}</ul>${more}</section>`
}

export function messageItem (message: StoredMessage): string {
  const time = timeOf(message.at)
  const cards = message.direction === 'out' ? carouselCards(message.text) : undefined
  if (cards !== undefined) {
    return `<li class="cards">${cards.map(card => `<div class="product"><strong>${e(card.title)}</strong>` +
      `${card.subtitle === '' ? '' : `<span>${e(card.subtitle)}</span>`}</div>`).join('')}${time}</li>`
  }
  return `<li class="${message.direction}">${e(message.text)}${time}</li>`
}

export function conversationView (c: ConversationListing, messages: StoredMessage[], csrf: string, notice: string | undefined): string {
  const path = conversationPath(c)
  const control = c.withHuman
    ? actionButton(`${path}/hand-back`, 'Hand back to the bot', csrf, 'secondary')
    : actionButton(`${path}/take-over`, 'Take over', csrf, 'secondary')
  const replyForm = c.unreachable
    ? '<p class="muted">Messenger says this person cannot be reached any more.</p>'
    : `<form method="post" action="${path}/reply">${csrfField(csrf)}<label for="reply">Reply</label>` +
      '<textarea id="reply" name="text" rows="3" maxlength="2000" required></textarea><button>Send</button></form>'
  const status = notice === undefined ? '' : `<p class="notice" role="status">${e(notice)}</p>`
  return `<p>On <strong>${e(c.pageName)}</strong> ${badges(c)}</p>${status}` +
    `<section><ol class="messages" aria-label="Messages" aria-live="polite" data-events="${path}/events">` +
    `${messages.map(messageItem).join('')}</ol></section><section>${replyForm}${control}</section>`
}

const STATUS_WORDS: Record<Campaign['status'], string> = {
  draft: 'draft', scheduled: 'scheduled', running: 'running', paused: 'paused', finished: 'finished', cancelled: 'cancelled'
}

export interface CampaignForm {
  name: string, text: string, q: string, productIds: string[], pageIds: string[], hours: number, discountCode: string
}

export function campaignsView (data: {
  campaigns: CampaignProgress[],
  pages: PageSummary[],
  products: ProductHit[],
  form: CampaignForm,
  csrf: string,
  problem?: string,
  shop: boolean
}): string {
  const { form, csrf } = data
  const list = data.campaigns.length === 0
    ? '<p class="muted">No campaigns yet.</p>'
    : '<table><thead><tr><th scope="col">Campaign</th><th scope="col">Status</th><th scope="col" class="n">Sent</th>' +
      '<th scope="col" class="n">Clicks</th><th scope="col" class="n">Orders</th></tr></thead><tbody>' +
      data.campaigns.map(c => `<tr><td><a href="/console/campaigns/${c.id}">${e(c.name)}</a></td><td>${STATUS_WORDS[c.status]}</td>` +
        `<td class="n">${c.sent} of ${c.total}</td><td class="n">${c.clicks}</td><td class="n">${c.orders}</td></tr>`).join('') +
      '</tbody></table>'
  const picked = new Set(form.productIds)
  const products = data.products.map(p =>
    `<label class="check"><input type="checkbox" name="productIds" value="${e(p.id)}"${picked.has(p.id) ? ' checked' : ''}>` +
    `${e(p.title)} <span class="muted">&nbsp;${e(p.price.min)} ${e(p.price.currency)}</span></label>`).join('')
  const chosenPages = new Set(form.pageIds)
  const pages = data.pages.filter(page => page.canMessage).map(page =>
    `<label class="check"><input type="checkbox" name="pageIds" value="${e(page.id)}"` +
    `${chosenPages.size === 0 || chosenPages.has(page.id) ? ' checked' : ''}>` +
    `${e(page.name)}</label>`).join('')
  const search = data.shop
    ? '<label for="q">Search products</label>' +
      `<input id="q" name="q" type="search" value="${e(form.q)}" maxlength="200">` +
      '<button class="secondary" formmethod="get" formaction="/console/campaigns" formnovalidate>Search</button>' +
      (products === ''
        ? (form.q === '' ? '' : '<p class="muted">No product matches.</p>')
        : `<fieldset><legend>Products (up to 10)</legend>${products}</fieldset>`)
    : '<p class="muted">Connect a Shopify store to add products.</p>'
  const create = `<form method="post" action="/console/campaigns">${csrfField(csrf)}` +
    `${data.problem === undefined ? '' : `<p class="problem" role="alert">${e(data.problem)}</p>`}` +
    `<label for="name">Name</label><input id="name" name="name" required maxlength="200" value="${e(form.name)}">` +
    `<label for="text">Message</label><textarea id="text" name="text" rows="3" required maxlength="640">${e(form.text)}</textarea>` +
    search +
    (pages === '' ? '<p class="muted">No Page can message its customers yet.</p>' : `<fieldset><legend>Pages</legend>${pages}</fieldset>`) +
    '<label for="hours">Customers who wrote within (hours, 1 to 24)</label>' +
    `<input id="hours" name="hours" type="number" min="1" max="24" value="${form.hours}">` +
    '<label for="discountCode">Discount code (optional)</label>' +
    `<input id="discountCode" name="discountCode" maxlength="64" pattern="[A-Za-z0-9_\\-]{1,64}" value="${e(form.discountCode)}">` +
    '<p><button>Create campaign</button></p></form>'
  return `<section><h2>New campaign</h2>${create}</section><section><h2>All campaigns</h2>${list}</section>`
}

export function campaignView (campaign: Campaign, progress: CampaignProgress, csrf: string): string {
  const path = `/console/campaigns/${campaign.id}`
  const done = progress.sent + progress.failed + Object.values(progress.skipped).reduce((sum, n) => sum + n, 0)
  const buttons: string[] = []
  if (campaign.status === 'draft' || campaign.status === 'scheduled') buttons.push(actionButton(`${path}/start`, 'Start', csrf))
  if (campaign.status === 'running') buttons.push(actionButton(`${path}/pause`, 'Pause', csrf, 'secondary'))
  if (campaign.status === 'paused') buttons.push(actionButton(`${path}/resume`, 'Resume', csrf))
  if (!['finished', 'cancelled'].includes(campaign.status)) buttons.push(actionButton(`${path}/cancel`, 'Cancel', csrf, 'danger'))
  const schedule = campaign.status === 'draft' || campaign.status === 'scheduled'
    ? `<form method="post" action="${path}/start">${csrfField(csrf)}<label for="at">Start at (UTC)</label>` +
      '<input id="at" name="at" type="datetime-local" required><button class="secondary">Schedule</button></form>'
    : ''
  const field = (name: string, value: string | number) => `<span data-field="${name}">${e(String(value))}</span>`
  const rows: Array<[string, string]> = [
    ['Recipients', field('total', progress.total)],
    ['Waiting', field('queued', progress.queued)],
    ['Sent', field('sent', progress.sent)],
    ['Failed', field('failed', progress.failed)],
    ['Skipped: window closed', field('windowClosed', progress.skipped.windowClosed)],
    ['Skipped: opted out', field('optedOut', progress.skipped.optedOut)],
    ['Skipped: unreachable', field('unreachable', progress.skipped.unreachable)],
    ['Skipped: with a person', field('withHuman', progress.skipped.withHuman)],
    ['Clicks', field('clicks', progress.clicks)],
    ['Orders', field('orders', progress.orders)],
    ['Revenue', field('revenue', progress.revenue.currency === null ? '0' : `${progress.revenue.amount} ${progress.revenue.currency}`)]
  ]
  const live = ['running', 'paused', 'scheduled'].includes(campaign.status) ? ` data-events="${path}/events"` : ''
  return `<p>Status: <strong>${field('status', STATUS_WORDS[campaign.status])}</strong>` +
    `${campaign.scheduledAt !== null && campaign.status === 'scheduled' ? ` for ${timeOf(campaign.scheduledAt)}` : ''}</p>` +
    `<section><p class="muted">Message</p><p>${e(campaign.text)}</p>` +
    '<label for="progress">Progress</label>' +
    `<progress id="progress" role="progressbar" max="${Math.max(1, progress.total)}" value="${done}" ` +
    `aria-valuemin="0" aria-valuemax="${progress.total}" aria-valuenow="${done}"${live}></progress>` +
    `<p>${buttons.join('')}</p>${schedule}</section>` +
    `<section><h2>Results</h2><table>${rows.map(([name, value]) =>
      `<tr><th scope="row">${name}</th><td class="n">${value}</td></tr>`).join('')}</table></section>`
}
