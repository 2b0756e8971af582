import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { DEFAULT_SETTINGS } from '../../../plugins/store/bot.js'
import { ADMIN_TOKEN, APP_ID, build, catalogProduct, GRAPH, mockGraph, postSignedDelivery, testDb, untrackedLinks } from '../../helper.js'

/** The bot end to end inside the app: a signed customer message in, Send API calls out (Graph mocked). */
const db = await testDb(t)
const PAGE = '104000000000601'
const SHOP = 'bot-shop.myshopify.com'
const agent = mockGraph(t)
const app = await build(t, {
  db,
  dispatcher: agent,
  env: {
    MESSENGER_VERIFY_TOKEN: 'bot-verify-token-0123',
    BOT_DISCLOSURE: "You're chatting with an automated assistant. Write 'human' for a person.",
    SHOPIFY_API_KEY: 'k',
    SHOPIFY_API_SECRET: 's',
    SHOPIFY_REDIRECT_URI: 'https://connect.example.com/shopify/callback'
  },
  shopifyDispatcher: mockGraph(t)
})
await app.store.pages.saveConnection({
  workspace: 'bot-ws',
  user: { id: '61', name: 'U', accessToken: 'EAAu' },
  pages: [{ id: PAGE, name: 'Bot Page', category: 'Shop', tasks: ['MESSAGING'], canMessage: true, accessToken: 'EAApage-bot' }]
})
await app.store.shops.saveInstall(SHOP, 'bot-ws', { accessToken: 'a', accessExpiresAt: new Date(Date.now() + 3_600_000), refreshToken: 'r', refreshExpiresAt: null, scopes: ['read_products'] })
await app.store.catalog.setSync(SHOP, 'ok')
await app.store.catalog.upsert(SHOP, [
  catalogProduct('1', 'Red Trail Running Shoe', { productType: 'Shoes', vendor: 'Fleet', prices: [['45.00', true], ['60.00', true]], imageUrl: 'https://cdn.example.com/red.jpg' }),
  catalogProduct('2', 'Blue Running Shoe', { productType: 'Shoes', vendor: 'Fleet', prices: [['80.00', true]] }),
  catalogProduct('3', 'Wool Scarf', { productType: 'Scarves', prices: [['25.00', true]] }),
  catalogProduct('4', 'Sold Out Red Shoe', { productType: 'Shoes', prices: [['30.00', false]] })
], new Date())

const calls: Array<{ path: string, body: Record<string, unknown> }> = []
/** a customer whose sender actions Meta refuses */
const SLOW_TO_SEE = '8090'
let messageIds = 0
agent.get(GRAPH).intercept({ path: p => p.startsWith(`/v26.0/${PAGE}/`), method: 'POST' }).reply(options => {
  const path = options.path.split('?')[0]!.replace(`/v26.0/${PAGE}/`, '')
  const body = JSON.parse(String(options.body)) as Record<string, unknown>
  calls.push({ path, body })
  if (body.sender_action !== undefined && to(SLOW_TO_SEE)({ path, body })) {
    return { statusCode: 500, data: JSON.stringify({ error: { message: 'sender actions are down', code: 2 } }) }
  }
  return { statusCode: 200, data: JSON.stringify(path === 'messages' ? { recipient_id: 'x', message_id: `m_bot_${++messageIds}` } : { success: true }) }
}).persist()

let mids = 0
async function customerSays (psid: string, text: string, extra: Record<string, unknown> = {}, mid = `m_in_${++mids}`) {
  const body = JSON.stringify({ object: 'page', entry: [{ id: PAGE, time: Date.now(), messaging: [{ sender: { id: psid }, recipient: { id: PAGE }, timestamp: Date.now(), message: { mid, text, ...extra } }] }] })
  const status = await postSignedDelivery(app, body)
  if (status !== 200) throw new Error(`webhook answered ${status}`)
  return mid
}
const to = (psid: string) => (call: typeof calls[number]) => (call.body.recipient as { id?: string } | undefined)?.id === psid
/** The messages (not sender actions) sent to `psid`, once there are `count` of them or after 4 s. */
async function sentTo (psid: string, count: number) {
  const mine = () => calls.filter(call => call.path === 'messages' && call.body.sender_action === undefined && to(psid)(call))
  for (let i = 0; i < 200 && mine().length < count; i++) await sleep(20)
  return mine()
}

t.test('a question gets a short text (with the disclosure, first time) and a carousel of matching products', async t => {
  await customerSays('8001', 'do you have red running shoes under $50?')
  const [intro, cards] = await sentTo('8001', 2)
  t.same(calls.filter(to('8001')).slice(0, 3).map(call => call.body.sender_action ?? 'message'), ['mark_seen', 'typing_on', 'message'],
    'the customer sees the message read and the bot typing before the reply')
  t.match(intro!.body, { messaging_type: 'RESPONSE', message: { text: /^You're chatting with an automated assistant\. Write 'human' for a person\.\n\n/ } },
    'BOT_DISCLOSURE first')
  t.match((intro!.body.message as { text: string }).text, 'Here is 1 product for "red running shoes" under €50.00:')
  type Template = { attachment: { payload: { template_type: string, elements: Array<Record<string, unknown>> } } }
  const payload = (cards!.body.message as Template).attachment.payload
  t.equal(payload.template_type, 'generic')
  t.ok(JSON.stringify(payload.elements).match(/"url":"[^"]+"/g)!.every(url => url.startsWith('"url":"https://connect.example.com/r/')),
    'every link goes through the service\'s /r/ (its click is counted)')
  t.same(untrackedLinks(payload.elements), [{
    title: 'Red Trail Running Shoe',
    subtitle: 'From €45.00 · Fleet',
    image_url: 'https://cdn.example.com/red.jpg',
    default_action: { type: 'web_url', url: `https://${SHOP}/products/red-trail-running-shoe` },
    buttons: [
      { type: 'web_url', url: `https://${SHOP}/products/red-trail-running-shoe`, title: 'View' },
      { type: 'web_url', url: `https://${SHOP}/cart/10:1`, title: 'Buy now' },
      { type: 'postback', title: 'More like this', payload: 'MORE:1' }
    ]
  }], 'the red shoe within the price, not the blue one over it nor the sold-out one')
  t.match((cards!.body.message as { quick_replies: unknown[] }).quick_replies,
    [{ title: 'Under €25', payload: 'TYPE:red running shoes under 25' }, { title: 'Talk to a person', payload: 'HUMAN' }])
  t.notOk('tag' in cards!.body, 'no tag on a bot message')
})

t.test('the same message delivered again is not answered again; the next question has no disclosure', async t => {
  const mid = await customerSays('8002', 'scarf')
  await sentTo('8002', 2)
  await customerSays('8002', 'scarf', {}, mid)
  await sleep(300)
  t.equal((await sentTo('8002', 2)).length, 2, 'answered once')
  await customerSays('8002', 'blue shoes')
  const all = await sentTo('8002', 4)
  t.equal(all.length, 4)
  t.notMatch((all[2]!.body.message as { text: string }).text, 'automated assistant')
})

t.test('"human": the bot says a person will answer, passes the thread to the Page Inbox, then stays quiet', async t => {
  await customerSays('8003', 'hello')
  await sentTo('8003', 1)
  await customerSays('8003', 'I want a human')
  const notice = (await sentTo('8003', 2))[1]!
  t.match((notice.body.message as { text: string }).text, 'A person from the shop will answer you here')
  let passed: typeof calls[number] | undefined
  for (let i = 0; i < 100 && passed === undefined; i++) {
    passed = calls.find(call => call.path === 'pass_thread_control' && (call.body.recipient as { id: string }).id === '8003')
    await sleep(20)
  }
  t.match(passed?.body, { recipient: { id: '8003' }, target_app_id: 263902037430900 })
  await customerSays('8003', 'are you there?')
  await sleep(300)
  const after = await sentTo('8003', 0)
  t.equal(after.length, 2, 'nothing more from the bot while a person has it')
})

t.test('"stop" opts out of promotions and is confirmed; "start" opts back in', async t => {
  await customerSays('8004', 'stop')
  t.match(((await sentTo('8004', 1))[0]!.body.message as { text: string }).text, 'no more promotions')
  t.same(await db.query("SELECT opted_out FROM conversations WHERE psid = '8004'"), [{ opted_out: true }])
  await customerSays('8004', 'start')
  await sentTo('8004', 2)
  t.same(await db.query("SELECT opted_out FROM conversations WHERE psid = '8004'"), [{ opted_out: false }])
})

t.test('sender actions are best effort: refused, the reply still goes out', async t => {
  await customerSays(SLOW_TO_SEE, 'scarf')
  t.equal((await sentTo(SLOW_TO_SEE, 2)).length, 2)
  t.ok(calls.some(call => call.body.sender_action === 'mark_seen' && to(SLOW_TO_SEE)(call)))
})

t.test('a message more than 24 hours old gets no Send API call at all, sender actions included', async t => {
  const at = Date.now() - 25 * 3_600_000
  await deliverEntry({ messaging: [{ sender: { id: '8091' }, recipient: { id: PAGE }, timestamp: at, message: { mid: 'm_old_1', text: 'scarf' } }] })
  for (let i = 0; i < 100 && (await db.query("SELECT 1 FROM messages WHERE mid = 'm_old_1'")).length === 0; i++) await sleep(20)
  await sleep(200)
  t.same(calls.filter(to('8091')), [])
})

t.test('a bot turned off answers nothing', async t => {
  await app.store.bot.saveSettings('bot-ws', { ...DEFAULT_SETTINGS, enabled: false, greeting: null, maxProducts: 5 })
  t.teardown(() => app.store.bot.saveSettings('bot-ws', { ...DEFAULT_SETTINGS, enabled: true, greeting: null, maxProducts: 5 }))
  await customerSays('8005', 'scarf')
  await sleep(300)
  t.equal((await sentTo('8005', 0)).length, 0)
})

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

t.test('the bot\'s settings: defaults, PUT validated, GET as saved', async t => {
  t.same((await app.inject({ url: '/admin/workspaces/fresh-bot-ws/bot', headers: auth })).json(), { enabled: true, greeting: null, maxProducts: 5 })
  const put = (payload: unknown) => app.inject({ method: 'PUT', url: '/admin/workspaces/set-bot-ws/bot', headers: auth, payload: payload as object })
  for (const bad of [{ enabled: true, greeting: null, maxProducts: 11 }, { enabled: 'yes', greeting: null, maxProducts: 5 }, { maxProducts: 0 }, { enabled: true, greeting: 'x'.repeat(641), maxProducts: 5 }]) {
    t.equal((await put(bad)).statusCode, 400, JSON.stringify(bad))
  }
  t.equal((await put({ enabled: false, greeting: 'Welcome!', maxProducts: 3 })).statusCode, 200)
  t.same((await app.inject({ url: '/admin/workspaces/set-bot-ws/bot', headers: auth })).json(), { enabled: false, greeting: 'Welcome!', maxProducts: 3 })
  t.same((await put({ maxProducts: 4 })).json(), { enabled: false, greeting: 'Welcome!', maxProducts: 4 }, 'a field left out keeps its value')
  t.same(Object.keys((await app.inject({ url: '/admin/workspaces/set-bot-ws/bot', headers: auth })).json()).sort(), ['enabled', 'greeting', 'maxProducts'],
    'without an LLM, exactly the fields of before')
})

t.test('a new greeting reaches the welcome screens of the workspace\'s Pages (Messenger Profile)', async t => {
  const profiles: Array<Record<string, unknown>> = []
  agent.get(GRAPH).intercept({ method: 'POST', path: p => p.startsWith('/v26.0/me/messenger_profile?') }).reply(options => {
    profiles.push(JSON.parse(String(options.body)))
    return { statusCode: 200, data: JSON.stringify({ result: 'success' }) }
  })
  const put = await app.inject({ method: 'PUT', url: '/admin/workspaces/bot-ws/bot', headers: auth, payload: { enabled: true, greeting: 'Hi there, shopper!', maxProducts: 5 } })
  t.teardown(() => app.store.bot.saveSettings('bot-ws', { ...DEFAULT_SETTINGS, enabled: true, greeting: null, maxProducts: 5 }))
  t.equal(put.statusCode, 200)
  for (let i = 0; i < 100 && profiles.length === 0; i++) await sleep(20)
  t.same(profiles, [{ get_started: { payload: 'GET_STARTED' }, greeting: [{ locale: 'default', text: 'Hi there, shopper!' }] }])
})

t.test('handed back from the admin API, the bot answers again and says again that it is a bot; the flags show', async t => {
  await customerSays('8006', 'human')
  await sentTo('8006', 1)
  const conversation = async () => (await app.inject({ url: `/admin/workspaces/bot-ws/pages/${PAGE}/conversations?limit=100`, headers: auth }))
    .json().conversations.find((c: { psid: string }) => c.psid === '8006')
  t.match(await conversation(), { withHuman: true, unreachable: false, optedOut: false })
  const handover = (to: string, psid = '8006') => app.inject({
    method: 'POST', url: `/admin/workspaces/bot-ws/pages/${PAGE}/conversations/${psid}/handover`, headers: auth, payload: { to }
  })
  t.equal((await handover('robot')).statusCode, 400)
  t.equal((await handover('bot', '8999')).statusCode, 404)
  t.same((await handover('bot')).json(), { withHuman: false })
  t.ok(calls.some(call => call.path === 'take_thread_control' && (call.body.recipient as { id: string }).id === '8006'), 'the thread is taken back')
  t.match(await conversation(), { withHuman: false })
  await customerSays('8006', 'scarf')
  const replies = await sentTo('8006', 3)
  t.match((replies[1]!.body.message as { text: string }).text, /^You're chatting with an automated assistant/)
})

async function deliverEntry (entry: Record<string, unknown>) {
  const body = JSON.stringify({ object: 'page', entry: [{ id: PAGE, time: Date.now(), ...entry }] })
  t.equal(await postSignedDelivery(app, body), 200)
}

t.test('Conversation Routing: standby messages are kept and never answered; control passed back to this app wakes the bot', async t => {
  await customerSays('8007', 'human')
  await sentTo('8007', 1)
  await deliverEntry({ standby: [{ sender: { id: '8007' }, recipient: { id: PAGE }, timestamp: Date.now(), message: { mid: 'm_standby_1', text: 'scarf please' } }] })
  let kept: unknown[] = []
  for (let i = 0; i < 100 && kept.length === 0; i++) {
    kept = await db.query("SELECT text FROM messages WHERE mid = 'm_standby_1'")
    await sleep(20)
  }
  t.same(kept, [{ text: 'scarf please' }], 'kept in the conversation')
  await sleep(200)
  t.equal((await sentTo('8007', 0)).length, 1, 'not answered')
  await deliverEntry({ messaging: [{ sender: { id: '8007' }, recipient: { id: PAGE }, timestamp: Date.now(), pass_thread_control: { new_owner_app_id: APP_ID, metadata: 'done' } }] })
  for (let i = 0; i < 100; i++) {
    if ((await db.query<{ with_human: boolean }>("SELECT with_human FROM conversations WHERE psid = '8007'"))[0]?.with_human === false) break
    await sleep(20)
  }
  await customerSays('8007', 'scarf')
  t.equal((await sentTo('8007', 3)).length, 3, 'the bot answers again once control is back')
})
