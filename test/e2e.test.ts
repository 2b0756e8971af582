import t from 'tap'
import { request } from 'undici'
import { DEFAULT_PAGES, startFacebookEmulator } from '../tools/emulator/facebook.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, build, freePort, testDb } from './helper.js'
import { browser } from './http-client.js'

const db = await testDb(t)

async function service (t: Parameters<typeof build>[0], autoApprove: boolean) {
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove })
  t.teardown(emulator.close)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = await build(t, { db, env: { FACEBOOK_GRAPH_URL: emulator.url, FACEBOOK_DIALOG_URL: emulator.url, FACEBOOK_REDIRECT_URI: `${base}/facebook/callback` } })
  await app.listen({ port, host: '127.0.0.1' })
  const mint = async (workspace: string) => {
    const res = await request(`${base}/admin/workspaces/${workspace}/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    t.equal(res.statusCode, 201)
    return (await res.body.json() as { url: string }).url
  }
  /** Opens a fresh link's connect page, clicks "Connect with Facebook" and stops on the emulator's dialog. */
  const openDialog = async (workspace: string) => {
    const client = browser()
    const connect = await client.get(await mint(workspace))
    const login = /href="([^"]+)">Connect with Facebook/.exec(connect.body)![1]!.replaceAll('&amp;', '&')
    const dialog = await client.follow(new URL(login, base).toString())
    const ticket = /name="ticket" value="([^"]+)"/.exec(dialog.body)![1]!
    return { client, dialog, decide: (params: Array<[string, string]>) => `${new URL('/dialog/decide', client.responses.at(-1)!.url)}?${new URLSearchParams([['ticket', ticket], ...params])}` }
  }
  return { emulator, base, mint, openDialog }
}

t.test('over real HTTP: mint a link, open the connect page, follow every redirect to the result page', async t => {
  const { emulator, base, mint } = await service(t, true)
  const url = await mint('e2e-shop')
  t.match(url, `${base}/connect?link=`)
  const client = browser()
  const connect = await client.get(url)
  t.equal(connect.status, 200)
  const href = /<a class="button" href="([^"]+)">Connect with Facebook<\/a>/.exec(connect.body)![1]!.replaceAll('&amp;', '&')

  const result = await client.follow(new URL(href, base).toString())
  t.same(client.responses.map(h => [new URL(h.url).pathname, h.status]), [
    ['/connect', 200],
    ['/facebook/login', 302],
    ['/v26.0/dialog/oauth', 302],
    ['/facebook/callback', 303],
    ['/connect', 200]
  ])
  t.equal(result.status, 200)
  t.match(result.body, 'Your Facebook Pages are connected')
  for (const page of DEFAULT_PAGES) t.match(result.body, page.name)
  t.equal(client.jar.get(new URL(base).host)?.size ?? 0, 0, 'the binding cookie is gone after the callback')
  t.same([...new Set(emulator.calls.map(c => c.path))], ['/oauth/access_token', '/me', '/me/permissions', '/me/accounts'])
  t.equal(emulator.calls.filter(c => c.path === '/me/accounts').length, 3, 'paged through the emulator')

  const pages = await request(`${base}/admin/workspaces/e2e-shop/pages`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal((await pages.body.json() as { pages: unknown[] }).pages.length, DEFAULT_PAGES.length)
})

t.test('over real HTTP: the emulator dialog, a declined permission, and the grant link', async t => {
  const { base, openDialog } = await service(t, false)
  const { client, dialog, decide } = await openDialog('e2e-declined')
  t.match(dialog.body, 'Continue as')
  const result = await client.follow(decide([['granted', 'pages_show_list'], ['granted', 'pages_manage_metadata'], ['decision', 'allow']]))
  t.equal(result.status, 200)
  t.match(result.body, 'Some permissions were not granted: pages_messaging')
  const grant = /<a href="([^"]+)">Grant the missing permissions/.exec(result.body)![1]!.replaceAll('&amp;', '&')
  const again = await client.get(new URL(grant, base).toString())
  t.equal(again.status, 302)
  t.equal(new URL(again.location!).searchParams.get('auth_type'), 'rerequest')
})

t.test('over real HTTP: cancelling the dialog ends on the friendly cancellation page', async t => {
  const { openDialog } = await service(t, false)
  const { client, decide } = await openDialog('e2e-cancel')
  const result = await client.follow(decide([['decision', 'deny']]))
  t.equal(result.status, 403)
  t.match(result.body, 'Facebook Login was cancelled')
})

t.test('over real HTTP with Messenger on: Pages subscribed on connect, a signed customer message reaches the admin API', async t => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true, serviceUrl: base })
  t.teardown(emulator.close)
  const app = await build(t, {
    db,
    env: { FACEBOOK_GRAPH_URL: emulator.url, FACEBOOK_DIALOG_URL: emulator.url, FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`, MESSENGER_VERIFY_TOKEN: 'e2e-verify-token-0123' }
  })
  await app.listen({ port, host: '127.0.0.1' })
  const minted = await request(`${base}/admin/workspaces/e2e-messenger/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const { url } = await minted.body.json() as { url: string }
  const result = await browser('application/json').follow(url.replace('/connect?', '/facebook/login?'))
  t.equal(result.status, 200)
  const messaging = DEFAULT_PAGES.filter(p => p.tasks.includes('MESSAGING')).map(p => p.id)
  t.same([...emulator.subscribedPages].sort(), messaging.sort(), 'every Page that can message is subscribed')
  t.ok(JSON.parse(result.body).pages.every((p: { id: string, subscribed: boolean }) => p.subscribed === messaging.includes(p.id)))

  t.equal(await emulator.deliverMessage(messaging[0]!, '2400000000000009', 'Any croissants left? 🥐 é'), 200)
  let conversations: Array<{ psid: string, messages: Array<{ text: string }> }> = []
  for (let i = 0; i < 100 && conversations.length === 0; i++) {
    const res = await request(`${base}/admin/workspaces/e2e-messenger/pages/${messaging[0]}/conversations`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    conversations = (await res.body.json() as { conversations: typeof conversations }).conversations
    if (conversations.length === 0) await new Promise(resolve => setTimeout(resolve, 50))
  }
  t.match(conversations, [{ psid: '2400000000000009', messages: [{ text: 'Any croissants left? 🥐 é' }] }], 'the escaped body was verified and decoded')

  // No shop in this workspace: the bot says so (saying first that it is a bot) and hands the customer to a person.
  for (let i = 0; i < 100 && emulator.threadControl.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 50))
  t.match(emulator.sentMessages, [{ pageId: messaging[0], psid: '2400000000000009', messagingType: 'RESPONSE', message: { text: /^You're chatting with an automated assistant/ } }],
    'the bot\'s reply went out through the Send API, as Meta accepts it')
  t.match(emulator.threadControl, [{ pageId: messaging[0], psid: '2400000000000009', action: 'pass', targetAppId: 263902037430900 }], 'then the thread went to the Page Inbox')

  const admin = async (path: string) => {
    const res = await request(`${base}/admin/workspaces/e2e-messenger${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    return { status: res.statusCode, body: await res.body.json() as { pages: unknown[] } }
  }
  // Earlier tests of this file connected the same Pages elsewhere: a Page this user may only analyze stays there.
  const takeable = DEFAULT_PAGES.filter(p => p.tasks.includes('MESSAGING') || p.tasks.includes('MANAGE'))
  t.equal((await admin('/pages')).body.pages.length, takeable.length)
  t.same(await emulator.deauthorize(), { status: 200, body: { status: 'ok' } }, 'the signed deauthorize callback is accepted')
  t.same((await admin('/pages')).body.pages, [], 'the Pages only this user connected are gone')
  t.equal((await admin(`/pages/${messaging[0]}/conversations`)).status, 404, 'and their conversations with them')

  const deletion = await emulator.requestDataDeletion()
  t.equal(deletion.status, 200)
  const { url: statusUrl, confirmation_code: code } = deletion.body as { url: string, confirmation_code: string }
  t.match(statusUrl, new RegExp(`/facebook/data-deletion/${code}$`))
  const status = await request(`${base}${new URL(statusUrl).pathname}`)
  t.match(await status.body.json(), { confirmationCode: code }, 'the status page knows the confirmation code')
})
