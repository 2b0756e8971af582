import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { issueToken, signingKeys } from '../../../plugins/tokens/state-token.js'
import { ADMIN_TOKEN, build, testDb, testEnv } from '../../helper.js'
import { browser } from '../../http-client.js'
import { eventually, startSalesStack } from '../../sales-stack.js'

/** The owner's console over real HTTP: sessions, CSRF, every page, escaping, the event streams. */
const db = await testDb(t)
const stack = await startSalesStack(t, db, 'owner', { env: { SEND_RATE_PER_PAGE: '50' } })
const { base, facebook, admin } = stack
const PAGE = '104000000000001'
const STATE_SECRET = testEnv().STATE_TOKEN_SECRET!
let customers = 0

const connectUrl = async (workspace: string) => {
  const res = await request(`${base}/admin/workspaces/${workspace}/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return (await res.body.json() as { url: string }).url
}
/** A browser with a console session for `workspace`, opened from its connect page's "Open the console" link. */
async function ownerBrowser (workspace = 'owner') {
  const client = browser()
  const connect = await client.get(await connectUrl(workspace))
  const href = /<a class="button" href="([^"]+)">Open the console<\/a>/.exec(connect.body)?.[1]
  if (href === undefined) throw new Error('no "Open the console" link on the connect page')
  const opened = await client.get(`${base}${href.replaceAll('&amp;', '&')}`)
  const overview = await client.follow(opened.location!)
  return { client, opened, overview }
}
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!
/** A new customer writes `text` to the Page; resolves when the conversation is stored. */
async function customerWrites (text: string, psid = String(3_100_000_000_000_000 + ++customers)) {
  await facebook.deliverMessages([{ pageId: PAGE, psid, text }])
  await eventually(async () => (await db.query('SELECT 1 FROM conversations WHERE page_id = $1 AND psid = $2', [PAGE, psid])).length > 0 || undefined)
  return psid
}
const conversationUrl = (psid: string) => `${base}/console/conversations/${PAGE}/${psid}`

/** Reads a Server-Sent Events stream until `done` says so (or `ms` pass); gives the events read. */
async function readEvents (url: string, cookie: string, done: (events: Array<{ event: string, data: unknown }>) => boolean, ms = 8000) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  const res = await request(url, { headers: { cookie, accept: 'text/event-stream' }, signal: controller.signal })
  const events: Array<{ event: string, data: unknown }> = []
  let buffer = ''
  try {
    for await (const chunk of res.body) {
      buffer += chunk.toString()
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.+)$/m.exec(block)?.[1]
        const data = /^data: (.+)$/m.exec(block)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
      }
      if (done(events)) break
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return { status: res.statusCode, type: res.headers['content-type'], events }
}
const cookieHeader = (client: ReturnType<typeof browser>) => [...client.jar.get(new URL(base).host)!].map(([k, v]) => `${k}=${v}`).join('; ')

t.test('the connect page opens the console: a session cookie (HttpOnly, SameSite=Lax, 12 hours), then the overview', async t => {
  const { opened, overview } = await ownerBrowser()
  t.equal(opened.status, 303)
  const cookie = [opened.headers['set-cookie']].flat().find(line => line!.startsWith('msb_console='))!
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Lax/)
  t.match(cookie, /Max-Age=43200/)
  t.match(cookie, /Path=\//)
  t.notMatch(cookie, /Secure/, 'plain http here (PUBLIC_BASE_URL is http)')
  t.equal(overview.status, 200)
  for (const name of ['Overview', 'Conversations', 'Campaigns', 'Results']) t.match(overview.body, new RegExp(`<a href="[^"]+"[^>]*>${name}</a>`), `navigation: ${name}`)
  t.match(overview.body, /Corner Bakery/, 'the Pages')
  t.match(overview.body, /can message/)
  t.match(overview.body, /corner-store\.myshopify\.com/, 'the shop')
  t.match(overview.body, /Bot<\/th><td>on/, 'the bot\'s settings')
  t.match(overview.body, /Last 7 days/)
})

t.test('with https, the cookies are Secure and take the __Host- prefix', async t => {
  // A store of its own: this app's sender must not reach for the other app's Pages.
  const app = await build(t, { db: await testDb(t), env: { MESSENGER_VERIFY_TOKEN: 'console-verify-token-01' } })
  const minted = await app.inject({ method: 'POST', url: '/admin/workspaces/owner/connect-links', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const link = new URL(minted.json<{ url: string }>().url).searchParams.get('link')!
  const opened = await app.inject({ url: `/console/open?${new URLSearchParams({ link })}` })
  t.equal(opened.statusCode, 303)
  t.match(String(opened.headers['set-cookie']), /^__Host-msb_console=[^;]+;.*Secure/)
  const session = String(opened.headers['set-cookie']).split(';')[0]!
  const page = await app.inject({ url: '/console', headers: { cookie: session } })
  t.equal(page.statusCode, 200)
  t.match(String(page.headers['set-cookie']), /^__Host-msb_csrf=[^;]+;.*Secure.*SameSite=Strict|^__Host-msb_csrf=[^;]+;.*SameSite=Strict.*Secure/)
})

t.test('without a valid session every console page asks for the connect link again', async t => {
  const anonymous = browser()
  for (const path of ['/console', '/console/conversations', '/console/campaigns', '/console/results', `/console/conversations/${PAGE}/1`]) {
    const res = await anonymous.get(`${base}${path}`)
    t.equal(res.status, 401, path)
    t.match(res.body, /Open the connect link/)
  }
  t.equal((await anonymous.post(`${base}/console/campaigns`, { name: 'x', text: 'y' })).status, 401, 'an action too')
  const keys = signingKeys([STATE_SECRET])
  const now = Math.floor(Date.now() / 1000)
  const expired = issueToken(keys, 'console', 'owner', { ttlSeconds: 60 }, now - 3600)
  const otherKind = issueToken(keys, 'connect', 'owner', { ttlSeconds: 3600 }, now)
  const { client } = await ownerBrowser()
  const valid = client.jar.get(new URL(base).host)!.get('msb_console')!
  const tampered = valid.slice(0, -2) + (valid.endsWith('AA') ? 'BA' : 'AA')
  for (const [name, token] of [['expired', expired], ['a connect link as a session', otherKind], ['tampered', tampered]]) {
    const res = await request(`${base}/console`, { headers: { cookie: `msb_console=${token}` } })
    t.equal(res.statusCode, 401, name!)
    await res.body.dump()
  }
  t.equal((await anonymous.get(`${base}/console/open?link=not-a-link`)).status, 403, 'a bad connect link opens nothing')
})

t.test('another workspace reaches nothing of this one', async t => {
  const psid = await customerWrites('hello from the owner\'s customer')
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'Owner only', text: 'Owner promo' } })
  const other = (await ownerBrowser('other')).client
  const overview = await other.get(`${base}/console`)
  t.notMatch(overview.body, /Corner Bakery/, 'none of its Pages')
  t.notMatch((await other.get(`${base}/console/conversations`)).body, new RegExp(psid), 'none of its conversations')
  t.equal((await other.get(conversationUrl(psid))).status, 404)
  t.equal((await other.get(`${conversationUrl(psid)}/events`)).status, 404)
  t.equal((await other.get(`${base}/console/campaigns/${String(body.id)}`)).status, 404)
  t.notMatch((await other.get(`${base}/console/campaigns`)).body, /Owner only/)
  const csrf = csrfOf(overview.body)
  t.equal((await other.post(`${conversationUrl(psid)}/take-over`, { _csrf: csrf })).status, 404)
  t.equal((await other.post(`${conversationUrl(psid)}/reply`, { _csrf: csrf, text: 'not yours' })).status, 404)
  t.equal((await other.post(`${base}/console/campaigns/${String(body.id)}/start`, { _csrf: csrf })).status, 404)
  t.equal((await admin(`/campaigns/${String(body.id)}`)).body.status, 'draft', 'the campaign was not started')
})

t.test('CSRF: a POST without the token, with a wrong one or another session\'s is refused and changes nothing', async t => {
  const psid = await customerWrites('is anyone there?')
  const { client, overview } = await ownerBrowser()
  const second = await ownerBrowser()
  const tokens = [undefined, 'made-up', csrfOf(second.overview.body)]
  for (const token of tokens) {
    const form = { text: 'should not be sent', ...(token === undefined ? {} : { _csrf: token }) }
    t.equal((await client.post(`${conversationUrl(psid)}/reply`, form)).status, 403, `reply, token ${token === undefined ? 'missing' : 'wrong'}`)
    t.equal((await client.post(`${conversationUrl(psid)}/take-over`, token === undefined ? {} : { _csrf: token })).status, 403)
  }
  await sleep(300)
  t.notOk(facebook.sentMessages.some(sent => sent.message.text === 'should not be sent'), 'nothing sent')
  t.notMatch((await client.get(conversationUrl(psid))).body, /with a person/, 'not taken over')
  const withToken = await client.post(`${conversationUrl(psid)}/reply`, { _csrf: csrfOf(overview.body), text: 'sent with the token' })
  t.equal(withToken.status, 303, 'the same reply with the page\'s token goes through')
})

t.test('a conversation: the customer\'s words, the bot\'s carousel as cards; a person replies, takes over, hands back', async t => {
  const psid = await customerWrites('do you have a wool scarf?')
  const { client } = await ownerBrowser()
  const page = await eventually(async () => {
    const res = await client.get(conversationUrl(psid))
    return /class="cards"/.test(res.body) ? res : undefined
  })
  t.match(page.body, /do you have a wool scarf\?/)
  t.match(page.body, /<div class="product"><strong>Wool Scarf/, 'the carousel as small cards')
  t.match(page.body, /window open/)
  t.match(page.body, /<label for="reply">Reply<\/label><textarea id="reply"/)
  t.match(page.body, /<button>Send<\/button>/)

  const sent = await client.post(`${conversationUrl(psid)}/reply`, { _csrf: csrfOf(page.body), text: 'Hi, Sam from the shop here!' })
  t.equal(sent.status, 303)
  t.match((await client.get(sent.location!)).body, /Your reply is on its way/)
  const arrived = await eventually(() => facebook.sentMessages.find(m => m.psid === psid && m.message.text === 'Hi, Sam from the shop here!'))
  t.equal(arrived.messagingType, 'RESPONSE', 'inside the window: a plain response')

  const before = await client.get(conversationUrl(psid))
  t.match(before.body, /<button class="secondary">Take over<\/button>/)
  const taken = await client.post(`${conversationUrl(psid)}/take-over`, { _csrf: csrfOf(before.body) })
  t.equal(taken.status, 303)
  const during = await client.get(taken.location!)
  t.match(during.body, /with a person/)
  t.match(during.body, /<button class="secondary">Hand back to the bot<\/button>/)
  const answered = facebook.sentMessages.filter(m => m.psid === psid).length
  await facebook.deliverMessages([{ pageId: PAGE, psid, text: 'red boots?' }])
  await sleep(600)
  t.equal(facebook.sentMessages.filter(m => m.psid === psid).length, answered, 'the bot stays quiet while a person has it')
  const back = await client.post(`${conversationUrl(psid)}/hand-back`, { _csrf: csrfOf(during.body) })
  t.equal(back.status, 303)
  t.notMatch((await client.get(back.location!)).body, /badge human/)
  await facebook.deliverMessages([{ pageId: PAGE, psid, text: 'linen shirt?' }])
  await eventually(() => facebook.sentMessages.filter(m => m.psid === psid).length > answered || undefined)
  t.pass('the bot answers again')

  const list = await client.get(`${base}/console/conversations`)
  t.match(list.body, new RegExp(`href="/console/conversations/${PAGE}/${psid}"`), 'listed, newest first')
  t.equal(/href="\/console\/conversations\/\d+\/(\d+)"/.exec(list.body)![1], psid, 'the latest conversation first')
})

t.test('every stored string is escaped: customer text, Page names, product titles, campaign names', async t => {
  const evil = '<script>alert("x")</script> & \'quoted\''
  const psid = await customerWrites(evil)
  await db.query('UPDATE pages SET name = $1 WHERE id = $2', ['<b>Bold</b> "Bakery"', PAGE])
  t.teardown(() => db.query('UPDATE pages SET name = $1 WHERE id = $2', ['Corner Bakery', PAGE]))
  const [product] = await db.query<{ id: string, title: string }>("SELECT id, title FROM products WHERE title ILIKE 'wool scarf%' ORDER BY id LIMIT 1")
  await db.query('UPDATE products SET title = $1 WHERE id = $2', [`${product!.title} <img src=x onerror=alert(1)>`, product!.id])
  t.teardown(() => db.query('UPDATE products SET title = $1 WHERE id = $2', [product!.title, product!.id]))
  await admin('/campaigns', { method: 'POST', body: { name: '<i>sneaky</i>', text: 'promo <u>x</u>' } })
  const { client } = await ownerBrowser()
  const pages = [
    (await client.get(conversationUrl(psid))).body,
    (await client.get(`${base}/console/conversations`)).body,
    (await client.get(`${base}/console`)).body,
    (await client.get(`${base}/console/campaigns?q=wool`)).body
  ]
  for (const html of pages) {
    t.notMatch(html, /<script>alert|<b>Bold|<img src=x|<i>sneaky/, 'no stored markup comes through')
    t.notMatch(html, /<script(?![^>]*src=)/, 'no inline script')
    t.notMatch(html, / style=/, 'no inline style')
  }
  t.match(pages[0], /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;quoted&#39;/)
  t.match(pages[2], /&lt;b&gt;Bold&lt;\/b&gt; &quot;Bakery&quot;/)
  t.match(pages[3], /&lt;img src=x onerror=alert\(1\)&gt;/)
  t.match(pages[3], /&lt;i&gt;sneaky&lt;\/i&gt;/)
})

t.test('a conversation\'s new messages arrive on its event stream', async t => {
  const psid = await customerWrites('first words')
  const { client } = await ownerBrowser()
  const reading = readEvents(`${conversationUrl(psid)}/events`, cookieHeader(client),
    events => events.some(e => JSON.stringify(e.data).includes('second words')))
  await sleep(300)
  await facebook.deliverMessages([{ pageId: PAGE, psid, text: 'second words' }])
  const { status, type, events } = await reading
  t.equal(status, 200)
  t.match(type, /^text\/event-stream/)
  const messages = events.filter(e => e.event === 'messages').flatMap(e => e.data as Array<{ direction: string, text: string }>)
  t.ok(messages.some(m => m.direction === 'in' && m.text === 'second words'), 'the customer\'s new message, as it was stored')
  t.notOk(messages.some(m => m.text === 'first words'), 'only what is new')
})

t.test('campaigns: search products, create, start with a live progress bar, results; pause, resume, schedule, cancel', async t => {
  const audience = [await customerWrites('hi'), await customerWrites('hello')]
  const { client } = await ownerBrowser()
  const empty = await client.get(`${base}/console/campaigns`)
  for (const label of ['Name', 'Message', 'Search products']) t.match(empty.body, new RegExp(`<label for="[^"]+">${label}</label>`), `a field labelled ${label}`)
  t.match(empty.body, /<button>Create campaign<\/button>/)
  const found = await client.get(`${base}/console/campaigns?${new URLSearchParams({ q: 'wool scarf', name: 'Scarves', text: 'Warm scarves this week' })}`)
  t.match(found.body, /value="Scarves"/, 'what was typed stays on the form')
  const productId = /name="productIds" value="([^"]+)"/.exec(found.body)?.[1]
  t.ok(productId, 'the search lists products to pick')
  const bad = await client.post(`${base}/console/campaigns`, { _csrf: csrfOf(found.body), name: 'No message', text: '' })
  t.equal(bad.status, 400)
  const created = await client.post(`${base}/console/campaigns`, {
    _csrf: csrfOf(found.body), name: 'Scarves', text: 'Warm scarves this week', productIds: [productId!], pageIds: [PAGE], hours: '24', discountCode: ''
  })
  t.equal(created.status, 303)
  const draft = await client.get(created.location!)
  t.match(draft.body, /Status: <strong><span data-field="status">draft/)
  t.match(draft.body, /<button>Start<\/button>/)
  t.match(draft.body, /role="progressbar"/)
  const started = await client.post(`${created.location!}/start`, { _csrf: csrfOf(draft.body) })
  t.equal(started.status, 303)
  const id = created.location!.split('/').at(-1)!
  const stream = await readEvents(`${created.location!}/events`, cookieHeader(client), events =>
    events.some(e => (e.data as { status: string }).status === 'finished'), 10_000)
  const last = stream.events.at(-1)!.data as { status: string, sent: number, total: number }
  t.equal(last.status, 'finished', 'the stream follows it to the end')
  t.ok(last.total >= audience.length && last.sent === last.total, `everyone reached (${last.sent} of ${last.total})`)
  const finished = await client.get(created.location!)
  t.match(finished.body, new RegExp(`aria-valuenow="${last.total}"`))
  t.match(finished.body, new RegExp(`aria-valuemax="${last.total}"`))
  t.notMatch(finished.body, /<button>Start<\/button>|Pause<\/button>|Cancel<\/button>/, 'nothing left to do')
  t.ok(audience.every(psid => facebook.sentMessages.some(m => m.psid === psid && m.message.text === 'Warm scarves this week')))
  t.equal((await client.post(`${created.location!}/start`, { _csrf: csrfOf(finished.body) })).status, 409, 'a finished campaign does not start again')
  t.match((await client.get(`${base}/console/campaigns`)).body, new RegExp(`href="/console/campaigns/${id}">Scarves</a>`))

  // Held at the Page, a second campaign stays running long enough to pause, resume and cancel.
  await db.query("UPDATE pages SET sends_paused_until = now() + interval '1 hour' WHERE id = $1", [PAGE])
  t.teardown(() => db.query('UPDATE pages SET sends_paused_until = NULL WHERE id = $1', [PAGE]))
  const form = (await client.get(`${base}/console/campaigns`)).body
  const second = await client.post(`${base}/console/campaigns`, { _csrf: csrfOf(form), name: 'Held', text: 'Held promo', hours: '24' })
  const steps: Array<[string, string, RegExp]> = [['start', 'running', /Pause<\/button>/], ['pause', 'paused', /Resume<\/button>/],
    ['resume', 'running', /Pause<\/button>/], ['cancel', 'cancelled', /^(?![\s\S]*Cancel<\/button>)/]]
  for (const [action, status, button] of steps) {
    const current = await client.get(second.location!)
    t.equal((await client.post(`${second.location!}/${action}`, { _csrf: csrfOf(current.body) })).status, 303, action)
    const after = await client.get(second.location!)
    t.match(after.body, new RegExp(`data-field="status">${status}`), `${action} -> ${status}`)
    t.match(after.body, button)
  }
  const third = await client.post(`${base}/console/campaigns`, { _csrf: csrfOf(form), name: 'Later', text: 'Later promo' })
  const thirdPage = await client.get(third.location!)
  t.match(thirdPage.body, /<label for="at">Start at \(UTC\)<\/label>/)
  const at = new Date(Date.now() + 3_600_000).toISOString().slice(0, 16)
  t.equal((await client.post(`${third.location!}/start`, { _csrf: csrfOf(thirdPage.body), at })).status, 303)
  t.match((await client.get(third.location!)).body, /data-field="status">scheduled/)
})

t.test('results: the last 30 days as an SVG chart with a title, and the totals', async t => {
  const { client } = await ownerBrowser()
  const res = await client.get(`${base}/console/results`)
  t.equal(res.status, 200)
  t.match(res.body, /<svg [^>]*role="img"[^>]*><title id="chart-title">The last 30 days/)
  t.equal((res.body.match(/<rect /g) ?? []).length, 30 * 4, 'a bar per day for each of the four figures')
  const { body } = await admin('/analytics')
  const totals = body.totals as { conversations: number }
  t.match(res.body, new RegExp(`Conversations started</th><td class="n">${totals.conversations}<`), 'the same totals as the analytics API')
})

t.test('the console\'s policy: scripts and styles from the service only; its assets; sign out ends the session', async t => {
  const { client, overview } = await ownerBrowser()
  const page = await request(`${base}/console`, { headers: { cookie: cookieHeader(client) } })
  await page.body.dump()
  const policy = String(page.headers['content-security-policy'])
  t.match(policy, /script-src 'self'/)
  t.match(policy, /style-src 'self'/)
  t.notMatch(policy, /unsafe-inline/)
  t.match(overview.body, /<script src="\/console\/assets\/console\.js" defer><\/script>/)
  const script = await client.get(`${base}/console/assets/console.js`)
  t.equal(script.status, 200)
  t.match(script.headers['content-type'], /^text\/javascript/)
  t.match(script.body, /EventSource/)
  const style = await client.get(`${base}/console/assets/console.css`)
  t.match(style.headers['content-type'], /^text\/css/)
  t.equal((await client.get(`${base}/console/assets/nothing.js`)).status, 404)
  t.equal((await client.post(`${base}/console/sign-out`, { _csrf: csrfOf(overview.body) })).status, 200)
  t.equal((await client.get(`${base}/console`)).status, 401, 'signed out')
})
