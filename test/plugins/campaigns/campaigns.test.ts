import { execFile } from 'node:child_process'
import type { KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { request } from 'undici'
import { csvList } from '../../../plugins/core/config.js'
import { issueClickToken } from '../../../plugins/tokens/click-token.js'
import { signingKeys } from '../../../plugins/tokens/state-token.js'
import { ADMIN_TOKEN, testDb, untrackedLinks } from '../../helper.js'
import { eventually, SHOP, startSalesStack } from '../../sales-stack.js'

/** Campaigns over real HTTP: the emulators' customers, the outbox, and the admin API. */
const db = await testDb(t)
const stack = await startSalesStack(t, db, 'promo', { env: { SEND_RATE_PER_PAGE: '50' } })
const { facebook, admin } = stack
const PAGE = '104000000000001'
const OTHER_PAGE = '104000000000002'
let customers = 0

type Progress = { id: string, status: string, total: number, queued: number, sent: number, failed: number, skipped: Record<string, number> }
const progress = async (id: string) => (await admin(`/campaigns/${id}`)).body as unknown as Progress
const until = (id: string, check: (p: Progress) => boolean) =>
  eventually(async () => { const p = await progress(id); return check(p) ? p : undefined }, 8000)
const campaignMessages = (text: string) => facebook.sentMessages.filter(sent => sent.message.text === text)

/** `count` new customers write to `pageId` now (their window opens); returns their PSIDs. */
async function customersWrite (count: number, pageId = PAGE): Promise<string[]> {
  const psids = Array.from({ length: count }, () => String(2_700_000_000_000_000 + ++customers))
  await facebook.deliverMessages(psids.map(psid => ({ pageId, psid, text: 'just looking' })))
  await eventually(async () => {
    const rows = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM conversations WHERE psid = ANY($1::text[])', [psids])
    return rows[0]!.n === count ? true : undefined
  })
  return psids
}
/** Holds the Page's sends while a test changes things under a started campaign. */
const holdPage = (pageId = PAGE) => db.query("UPDATE pages SET sends_paused_until = now() + interval '1 hour' WHERE id = $1", [pageId])
const releasePage = (pageId = PAGE) => db.query('UPDATE pages SET sends_paused_until = NULL WHERE id = $1', [pageId])

t.before(async () => {
  t.equal((await admin('/bot', { method: 'PUT', body: { enabled: false } })).status, 200, 'the bot is off: only campaigns send')
})

t.test('creating: validated, 201 as a draft; unknown products, Pages and ids refused', async t => {
  const bad = [{ name: 'x' }, { name: 'x', text: '' }, { name: 'x', text: 'y'.repeat(641) }, { name: 'x', text: 'hi', productIds: Array.from({ length: 11 }, (_, i) => String(i + 1)) },
    { name: 'x', text: 'hi', audience: { lastMessageWithinHours: 25 } }, { name: 'x', text: 'hi', discountCode: 'has space' }]
  for (const body of bad) t.equal((await admin('/campaigns', { method: 'POST', body })).status, 400, JSON.stringify(body).slice(0, 80))
  const unknownProduct = await admin('/campaigns', { method: 'POST', body: { name: 'x', text: 'hi', productIds: ['27', '999999'] } })
  t.match(unknownProduct, { status: 400, body: { message: /999999/ } })
  const unknownPage = await admin('/campaigns', { method: 'POST', body: { name: 'x', text: 'hi', pageIds: ['999'] } })
  t.match(unknownPage, { status: 400, body: { message: /999/ } })
  const created = await admin('/campaigns', { method: 'POST', body: { name: 'Autumn', text: 'Autumn sale!', productIds: ['27'] } })
  t.match(created, { status: 201, body: { id: /^\d+$/, status: 'draft' } })
  t.equal((await admin('/campaigns/987654')).status, 404)
  t.equal((await admin('/campaigns/987654/start', { method: 'POST', body: {} })).status, 404)
})

t.test('a campaign reaches each customer of the window once: the text (UPDATE), then the carousel with the discount applied', async t => {
  const psids = await customersWrite(4)
  await db.query("UPDATE conversations SET last_customer_message_at = now() - interval '3 hours' WHERE psid = $1", [psids[3]])
  const text = 'Our wool week: 20% off with the code below!'
  const { body } = await admin('/campaigns', {
    method: 'POST', body: { name: 'Wool week', text, productIds: ['27', '15'], pageIds: [PAGE], audience: { lastMessageWithinHours: 2 }, discountCode: 'WOOL20' }
  })
  const started = await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: {} })
  t.match(started, { status: 200, body: { status: 'running' } })
  const done = await until(String(body.id), p => p.status === 'finished')
  t.ok(done.total >= 3, `recipients: everyone who wrote within 2 hours (${done.total})`)
  t.equal(done.sent, done.total)
  const mine = campaignMessages(text).filter(sent => psids.includes(sent.psid))
  t.same(mine.map(sent => sent.psid).sort(), psids.slice(0, 3).sort(), 'once each, and not the customer who wrote 3 hours ago')
  t.ok(mine.every(sent => sent.messagingType === 'UPDATE' && !('tag' in sent)), 'UPDATE, no tag')
  const carousel = facebook.sentMessages.find(sent => sent.psid === psids[0] && sent.message.attachment !== undefined)!
  type Element = { title: string, buttons: Array<{ title: string, url?: string }> }
  const elements = untrackedLinks((carousel.message as { attachment: { payload: { elements: Element[] } } }).attachment.payload.elements)
  t.same(elements.map(element => element.title), ['Wool Scarf 27', 'Wool Boots 15'])
  t.equal(elements[0]!.buttons.find(button => button.title === 'Buy now')!.url, `https://${SHOP}/discount/WOOL20?redirect=%2Fcart%2F270%3A1`)
  const order = facebook.sentMessages.filter(sent => sent.psid === psids[0]).map(sent => sent.message.text === text ? 'text' : 'carousel')
  t.same(order, ['text', 'carousel'], 'the text first, then the carousel')

  t.match(await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: {} }), { status: 409, body: { message: /finished/ } }, 'finished: 409')
  t.equal((await admin(`/campaigns/${body.id}/cancel`, { method: 'POST' })).status, 409)
  await sleep(300)
  t.equal(campaignMessages(text).filter(sent => psids.includes(sent.psid)).length, 3, 'nothing more was sent')
})

t.test('each recipient is checked again right before its send: opted out, with a person, unreachable, window closed', async t => {
  const psids = await customersWrite(5, OTHER_PAGE)
  await holdPage(OTHER_PAGE)
  const text = 'Flash sale on the Outlet page!'
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'Flash', text, pageIds: [OTHER_PAGE] } })
  await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: {} })
  await db.query('UPDATE conversations SET opted_out = true WHERE psid = $1', [psids[0]])
  await db.query('UPDATE conversations SET with_human = true WHERE psid = $1', [psids[1]])
  await db.query('UPDATE conversations SET unreachable = true WHERE psid = $1', [psids[2]])
  await db.query("UPDATE conversations SET last_customer_message_at = now() - interval '25 hours' WHERE psid = $1", [psids[3]])
  await releasePage(OTHER_PAGE)
  const done = await until(String(body.id), p => p.status === 'finished')
  t.match(done, { total: 5, sent: 1, skipped: { optedOut: 1, withHuman: 1, unreachable: 1, windowClosed: 1 } })
  t.same(campaignMessages(text).map(sent => sent.psid), [psids[4]], 'only the one still allowed got it')
})

t.test('pause holds it, resume goes on, cancel ends it: nothing sent while paused or after cancelling', async t => {
  const psids = await customersWrite(3)
  await holdPage()
  const text = 'Paused and resumed promotion'
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'P', text, pageIds: [PAGE], audience: { lastMessageWithinHours: 1 } } })
  const id = String(body.id)
  await admin(`/campaigns/${id}/start`, { method: 'POST', body: {} })
  t.match(await admin(`/campaigns/${id}/pause`, { method: 'POST' }), { status: 200, body: { status: 'paused' } })
  t.equal((await admin(`/campaigns/${id}/pause`, { method: 'POST' })).status, 409, 'pausing twice')
  await releasePage()
  await sleep(1200)
  t.equal(campaignMessages(text).length, 0, 'nothing while paused')
  t.match(await admin(`/campaigns/${id}/resume`, { method: 'POST' }), { status: 200, body: { status: 'running' } })
  await until(id, p => p.status === 'finished')
  t.ok(psids.every(psid => campaignMessages(text).some(sent => sent.psid === psid)))

  await customersWrite(2)
  await holdPage()
  const cancelledText = 'A promotion that never went out'
  const second = (await admin('/campaigns', { method: 'POST', body: { name: 'C', text: cancelledText, pageIds: [PAGE] } })).body
  await admin(`/campaigns/${second.id}/start`, { method: 'POST', body: {} })
  t.match(await admin(`/campaigns/${second.id}/cancel`, { method: 'POST' }), { status: 200, body: { status: 'cancelled', queued: 0 } })
  await releasePage()
  await sleep(1200)
  t.equal(campaignMessages(cancelledText).length, 0, 'cancelled: never sent')
  t.equal((await admin(`/campaigns/${second.id}/resume`, { method: 'POST' })).status, 409)
})

t.test('scheduled: it starts by itself when its time comes', async t => {
  await customersWrite(1)
  const text = 'A scheduled promotion'
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'S', text, pageIds: [PAGE], audience: { lastMessageWithinHours: 1 } } })
  const at = new Date(Date.now() + 1500).toISOString()
  t.match(await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: { at } }), { status: 200, body: { status: 'scheduled' } })
  t.equal((await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: { at: new Date(Date.now() + 2 * 365 * 86_400_000).toISOString() } })).status, 400)
  t.equal(campaignMessages(text).length, 0)
  await until(String(body.id), p => p.status === 'finished')
  t.ok(campaignMessages(text).length > 0)
})

t.test('a customer\'s question overtakes the campaign\'s next sends on its Page', async t => {
  await customersWrite(30)
  t.equal((await admin('/bot', { method: 'PUT', body: { enabled: true } })).status, 200)
  t.teardown(() => admin('/bot', { method: 'PUT', body: { enabled: false } }))
  await holdPage()
  const text = 'A long promotion'
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'Long', text, pageIds: [PAGE], audience: { lastMessageWithinHours: 1 } } })
  await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: {} })
  const asker = String(2_790_000_000_000_000)
  await facebook.deliverMessage(PAGE, asker, 'wool scarf')
  await eventually(async () => (await db.query("SELECT 1 FROM outbox WHERE psid = $1 AND source = 'bot'", [asker])).length > 0 || undefined)
  await releasePage()
  await until(String(body.id), p => p.status === 'finished')
  const firstReply = facebook.sentMessages.findIndex(sent => sent.psid === asker)
  const campaignSends = facebook.sentMessages.map((sent, index) => sent.message.text === text ? index : -1).filter(index => index >= 0)
  t.ok(firstReply >= 0 && firstReply < campaignSends[0]!, 'the reply went out before the first campaign message')
})

t.test('the progress as Server-Sent Events, until the campaign ends', async t => {
  await customersWrite(3)
  const text = 'Watched promotion'
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'Watched', text, pageIds: [PAGE], audience: { lastMessageWithinHours: 1 } } })
  await holdPage()
  await admin(`/campaigns/${body.id}/start`, { method: 'POST', body: {} })
  const res = await request(`${stack.base}/admin/workspaces/promo/campaigns/${body.id}/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], 'text/event-stream')
  setTimeout(() => { releasePage().catch(() => {}) }, 300)
  const stream = await res.body.text()
  const events = stream.split('\n\n').filter(block => block.startsWith('event: progress')).map(block => JSON.parse(block.split('data: ')[1]!) as Progress)
  t.ok(events.length >= 2, `${events.length} events`)
  t.equal(events[0]!.status, 'running')
  t.match(events.at(-1), { status: 'finished', queued: 0 })
  t.ok(events.every((event, i) => i === 0 || event.sent >= events[i - 1]!.sent), 'sent only grows')
  const unauthorised = await request(`${stack.base}/admin/workspaces/promo/campaigns/${body.id}/events`)
  t.equal(unauthorised.statusCode, 401)
  await unauthorised.body.dump()
})

t.test('the list shows every campaign, newest first', async t => {
  const { body } = await admin('/campaigns')
  const list = body.campaigns as Progress[]
  t.ok(list.length >= 7)
  t.same(list.map(c => Number(c.id)), list.map(c => Number(c.id)).sort((a, b) => b - a))
  t.equal((await request(`${stack.base}/admin/workspaces/someone-else/campaigns/${list[0]!.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode, 404,
    'another workspace\'s campaign is not found')
})

/** The CLI in its own process (the service runs in this one, so the test must not block while it works). */
async function cli (args: string[], token = ADMIN_TOKEN) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['dist/tools/campaign.js', ...args], {
      env: { PATH: process.env.PATH ?? '', SERVICE_URL: stack.base, ADMIN_API_TOKEN: token }, encoding: 'utf8', timeout: 30_000
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const failed = err as { code?: number, stdout?: string, stderr?: string }
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
  }
}

t.test('npm run campaign: start from a terminal, a progress bar, a summary at the end', async t => {
  await customersWrite(2)
  const run = await cli(['start', '--workspace', 'promo', '--name', 'From the CLI', '--text', 'Hello from the terminal', '--pages', PAGE, '--hours', '1', '--products', '27'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, /From the CLI \|.*\| \d+\/\d+ done/, 'the progress bar (on stderr, where cli-progress draws it)')
  t.match(run.stdout, /Campaign \d+ "From the CLI" finished: \d+ recipients, \d+ sent, 0 failed; skipped: 0 window closed/)
  const wrongToken = await cli(['watch', '--workspace', 'promo', '--id', '1'], 'not-the-token')
  t.not(wrongToken.code, 0)
  t.match(wrongToken.stderr, /401/)
})

t.test('a link in a campaign: counted on the way to the shop; link previews, tampered, expired and foreign links are not', async t => {
  const [clicker] = await customersWrite(1)
  const text = 'Click me promotion'
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'Clicks', text, productIds: ['27'], pageIds: [PAGE], audience: { lastMessageWithinHours: 1 } } })
  const id = String(body.id)
  await admin(`/campaigns/${id}/start`, { method: 'POST', body: {} })
  await until(id, p => p.status === 'finished')
  const carousel = facebook.sentMessages.find(sent => sent.psid === clicker && sent.message.attachment !== undefined)!
  type Carousel = { attachment: { payload: { elements: Array<{ buttons: Array<{ title: string, url?: string }> }> } } }
  const buyNow = (carousel.message as Carousel).attachment.payload.elements[0]!.buttons.find(button => button.title === 'Buy now')!.url!
  t.match(buyNow, new RegExp(`^${stack.app.config.PUBLIC_BASE_URL}/r/`))
  const open = (url: string, userAgent = 'Mozilla/5.0 (iPhone) Messenger') => request(url, { headers: { 'user-agent': userAgent } })
  const preview = await open(buyNow, 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)')
  t.equal(preview.statusCode, 302, 'a link preview gets the redirect')
  await preview.body.dump()
  t.equal((await progress(id) as unknown as { clicks: number }).clicks, 0, '... and is not counted')
  const click = await open(buyNow)
  t.equal(click.statusCode, 302)
  t.equal(click.headers.location, `https://${SHOP}/cart/270:1`)
  t.equal(click.headers['cache-control'], 'no-store')
  await click.body.dump()
  t.equal((await progress(id) as unknown as { clicks: number }).clicks, 1, 'a person\'s click is counted for the campaign')

  const [payload, signature] = buyNow.split('/r/')[1]!.split('.') as [string, string]
  const keys = signingKeys(csvList(stack.app.config.STATE_TOKEN_SECRET))
  const claims = { destination: `https://${SHOP}/cart/270:1`, pageId: PAGE, psid: carousel.psid }
  const now = Math.floor(Date.now() / 1000)
  const refused: Array<[string, string]> = [
    ['tampered', `${payload.slice(0, -2)}${payload.endsWith('AA') ? 'BB' : 'AA'}.${signature}`],
    ['signed with another secret', issueClickToken(signingKeys(['another-secret-0123456789abcdef-0123456789']), claims, now)],
    ['expired', issueClickToken(keys, claims, now - 31 * 86_400)],
    ['to a foreign domain', issueClickToken(keys, { ...claims, destination: 'https://evil.example/phish' }, now)],
    ['to the shop over http', issueClickToken(keys, { ...claims, destination: `http://${SHOP}/cart/270:1` }, now)],
    ['from a Page nobody connected', issueClickToken(keys, { ...claims, pageId: '999' }, now)],
    ['not a token at all', 'hello']
  ]
  for (const [name, token] of refused) {
    const res = await open(`${stack.base}/r/${token}`)
    t.equal(res.statusCode, 404, name)
    t.equal(res.headers.location, undefined, `${name}: no redirect`)
    await res.body.dump()
  }
  t.equal((await progress(id) as unknown as { clicks: number }).clicks, 1, 'none of them counted')
  const product = await open(issueClickTokenUrl(keys, { ...claims, destination: 'https://store.example/products/27' }, now))
  t.equal(product.statusCode, 302, 'a product page on the shop\'s storefront domain is the shop\'s too')
  await product.body.dump()
})

const issueClickTokenUrl = (keys: KeyObject[], claims: Parameters<typeof issueClickToken>[1], now: number) =>
  `${stack.base}/r/${issueClickToken(keys, claims, now)}`

t.test('analytics: per UTC day and in total, from what happened above; a bad range is 400', async t => {
  const today = new Date().toISOString().slice(0, 10)
  const { status, body } = await admin('/analytics')
  t.equal(status, 200)
  type Figures = {
    conversations: number,
    customerMessages: number,
    botReplies: number,
    handovers: number,
    clicks: number,
    orders: number
    revenue: unknown[]
  }
  const days = body.days as Array<Figures & { date: string }>
  t.equal(days.length, 30, 'the last 30 days by default')
  t.equal(days.at(-1)!.date, today)
  const now = days.at(-1)!
  const [conversations] = await db.query<{ n: number }>(
    "SELECT count(*)::integer AS n FROM conversations c JOIN pages p ON p.id = c.page_id WHERE p.workspace_id = 'promo'")
  t.equal(now.conversations, conversations!.n, 'every conversation of the workspace started today')
  t.ok(now.customerMessages >= conversations!.n, `customers' messages (${now.customerMessages})`)
  t.ok(now.botReplies >= 2, `the bot's replies in the overtaking test (${now.botReplies})`)
  t.equal(now.clicks, 2, 'the two counted clicks (a campaign\'s, and a link without one)')
  const { conversations: started, customerMessages, botReplies, handovers } = now
  t.same(body.totals, { conversations: started, customerMessages, botReplies, handovers, clicks: 2, orders: 0, revenue: [] })
  t.ok(days.slice(0, -1).every(day => day.conversations === 0 && day.clicks === 0), 'nothing on the other days')
  const one = await admin(`/analytics?from=${today}&to=${today}`)
  t.equal((one.body.days as unknown[]).length, 1)
  for (const query of ['from=2026-02-30&to=2026-03-01', 'from=2026-03-02&to=2026-03-01', 'from=2024-01-01&to=2026-03-01', 'from=yesterday', 'to=2026-13-01']) {
    t.equal((await admin(`/analytics?${query}`)).status, 400, query)
  }
})
