import pino from 'pino'
import t from 'tap'
import { createGraphClient } from '../../../plugins/facebook/graph.js'
import { updateMessengerProfiles, welcomeGreeting } from '../../../plugins/facebook/messenger-profile.js'
import { DEFAULT_SETTINGS } from '../../../plugins/store/bot.js'
import { openStore } from '../../../plugins/store/index.js'
import { APP_SECRET, GRAPH, mockGraph, testDb } from '../../helper.js'

const db = await testDb(t)
const { store } = await openStore({ db, encryptionKeys: '0123456789abcdef'.repeat(4) })
const page = (id: string, canMessage = true) =>
  ({ id, name: `Page ${id}`, category: 'Shop', tasks: canMessage ? ['MESSAGING'] : ['ANALYZE'], canMessage, accessToken: `EAApage-${id}` })
await store.pages.saveConnection({ workspace: 'mp-ws', user: { id: '71', name: 'U', accessToken: 'EAAu' }, pages: [page('901'), page('902'), page('903', false)] })

function graphWith (t: Parameters<typeof mockGraph>[0], answer: (token: string) => [number, object]) {
  const agent = mockGraph(t)
  const calls: Array<{ token: string, body: Record<string, unknown> }> = []
  agent.get(GRAPH).intercept({ method: 'POST', path: p => p.startsWith('/v26.0/me/messenger_profile?') }).reply(options => {
    const token = new URL(options.path, GRAPH).searchParams.get('access_token')!
    calls.push({ token, body: JSON.parse(String(options.body)) })
    const [statusCode, body] = answer(token)
    return { statusCode, data: JSON.stringify(body) }
  }).persist()
  return { graph: createGraphClient({ baseUrl: GRAPH, version: 'v26.0', appSecret: APP_SECRET, timeoutMs: 500, dispatcher: agent }), calls }
}

t.test('every Page that can message gets the Get Started button and the greeting, with its own token', async t => {
  const { graph, calls } = graphWith(t, () => [200, { result: 'success' }])
  await store.bot.saveSettings('mp-ws', { ...DEFAULT_SETTINGS, enabled: true, greeting: 'Hello from the shop!', maxProducts: 5 })
  t.same((await updateMessengerProfiles(graph, store, pino({ level: 'silent' }), 'mp-ws')).sort(), ['901', '902'])
  t.same(calls.map(call => call.token).sort(), ['EAApage-901', 'EAApage-902'], 'not the Page without the Messaging task')
  t.same(calls[0]!.body, { get_started: { payload: 'GET_STARTED' }, greeting: [{ locale: 'default', text: 'Hello from the shop!' }] })
})

t.test('a refusal is logged and does not stop the other Pages', async t => {
  const { graph } = graphWith(t, token => token === 'EAApage-901' ? [400, { error: { message: 'nope', code: 100 } }] : [200, { result: 'success' }])
  const lines: Array<{ msg: string, pageId?: string }> = []
  const log = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  t.same(await updateMessengerProfiles(graph, store, log, 'mp-ws', ['901', '902']), ['902'])
  t.match(lines, [{ pageId: '901', msg: /Messenger Profile not set/ }])
  t.notOk(JSON.stringify(lines).includes('EAApage'), 'no token in the log')
})

t.test('the greeting: the owner\'s, else one naming the shop, at most 160 characters', async t => {
  t.equal(welcomeGreeting(null, 'demo.myshopify.com'), "Welcome to demo.myshopify.com! Ask us about our products and we'll show you what we have.")
  t.equal(welcomeGreeting(null, null), "Welcome! Ask us about our products and we'll show you what we have.")
  const long = welcomeGreeting('🎉'.repeat(300), null)
  t.equal([...long].length, 160)
  t.ok(long.endsWith('…'))
})
