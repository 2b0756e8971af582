import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { openPglite } from '../../plugins/store/db.js'
import { type FacebookEmulator, startFacebookEmulator } from '../../tools/emulator/facebook.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, freePort, POSTGRES_SKIP, seededDataDir, testPostgresUrl } from '../helper.js'
import { browser } from '../http-client.js'
import { spawnService } from '../service-process.js'

/**
 * Never twice, with real processes: the built service killed with SIGKILL while sends are in flight and started
 * again; and two replicas on one PostgreSQL sharing the outbox. Every message is a person's reply from the admin API
 * (the bot is off, so only these go out), each with a text of its own so the emulator can count them.
 */
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const PAGE = '104000000000001'

async function admin (base: string, path: string, body?: unknown) {
  const res = await request(`${base}/admin/workspaces/outbox-crash${path}`, {
    method: body === undefined ? 'GET' : path.endsWith('/bot') ? 'PUT' : 'POST',
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
}

/** Connects the emulator's Pages, turns the bot off, and lets `customers` write once each (opening their window). */
async function prepare (t: Test, base: string, emulator: FacebookEmulator, customers: string[]) {
  const minted = await request(`${base}/admin/workspaces/outbox-crash/connect-links`, { method: 'POST', headers: auth })
  const { url } = await minted.body.json() as { url: string }
  t.equal((await browser('application/json').follow(url.replace('/connect?', '/facebook/login?'))).status, 200, 'Pages connected')
  t.equal((await admin(base, '/bot', { enabled: false, greeting: null, maxProducts: 5 })).status, 200, 'bot off')
  t.equal(await emulator.deliverMessages(customers.map(psid => ({ pageId: PAGE, psid, text: 'hello' }))), 200)
  for (let i = 0; i < 200; i++) {
    const { body } = await admin(base, `/pages/${PAGE}/conversations?limit=100`)
    if ((body.conversations as unknown[]).length >= customers.length) return
    await sleep(50)
  }
  throw new Error('the customers\' messages did not arrive')
}

/** Queues `each` replies to every customer, in order, through the admin API; returns their texts. */
async function queueReplies (base: string, customers: string[], each: number): Promise<string[]> {
  const texts: string[] = []
  for (let n = 0; n < each; n++) {
    for (const psid of customers) {
      const text = `reply ${n} to ${psid}`
      const { status } = await admin(base, `/pages/${PAGE}/conversations/${psid}/messages`, { text })
      if (status !== 202) throw new Error(`queueing answered ${status}`)
      texts.push(text)
    }
  }
  return texts
}

/** The Facebook emulator delivering to a service on `port`, and that service's environment (`store`: where it keeps data). */
async function againstEmulator (t: Test, port: number, store: Record<string, string>, sendRate: string) {
  const base = `http://127.0.0.1:${port}`
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true, serviceUrl: base })
  t.teardown(emulator.close)
  const env = {
    FACEBOOK_GRAPH_URL: emulator.url,
    FACEBOOK_DIALOG_URL: emulator.url,
    FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
    MESSENGER_VERIFY_TOKEN: 'outbox-suite-verify-0123',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    SEND_RATE_PER_PAGE: sendRate,
    ...store
  }
  return { base, emulator, env }
}

/** Two replicas of the built service on one PostgreSQL, against one emulator (its deliveries go to the first). */
async function twoReplicas (t: Test, databaseUrl: string) {
  const [portA, portB] = [await freePort(), await freePort()]
  const { base, emulator, env } = await againstEmulator(t, portA, { DATABASE_URL: databaseUrl }, '20')
  const [a, b] = await Promise.all([portA, portB].map(port => spawnService(t, { ...env, PORT: String(port) })))
  return { baseA: base, emulator, a, b }
}

/** The campaign's progress once it has finished, or as it stands after `tries` reads 50 ms apart. */
async function finishedCampaign (base: string, id: string, tries: number): Promise<Record<string, unknown>> {
  let progress: Record<string, unknown> = {}
  for (let i = 0; i < tries && progress.status !== 'finished'; i++) {
    progress = (await admin(base, `/campaigns/${id}`)).body
    if (progress.status !== 'finished') await sleep(50)
  }
  return progress
}

const counted = (emulator: FacebookEmulator) => {
  const seen = new Map<string, number>()
  for (const sent of emulator.sentMessages) seen.set(String(sent.message.text), (seen.get(String(sent.message.text)) ?? 0) + 1)
  return seen
}

t.test('SIGKILL while sends are in flight, then a restart: nothing sent twice, in-flight ones unknown, the rest sent', async t => {
  const port = await freePort()
  const dataDir = await seededDataDir(t)
  const { base, emulator, env: shared } = await againstEmulator(t, port, { DATA_DIR: dataDir }, '50')
  const env = { ...shared, PORT: String(port) }
  const first = await spawnService(t, env)
  const customers = Array.from({ length: 10 }, (_, i) => String(2_500_000_000_000_000 + i))
  await prepare(t, base, emulator, customers)
  // Meta answers slowly: calls pile up in flight, and the kill lands while several wait for their answer.
  emulator.setDelay(400)
  const queued = await queueReplies(base, customers, 6)
  const sends = () => emulator.calls.filter(call => call.path === `/${PAGE}/messages`).length
  for (let i = 0; i < 400 && sends() < 15; i++) await sleep(10)
  first.child.kill('SIGKILL')
  await first.exited
  const attempted = sends()
  t.ok(attempted >= 15 && attempted < queued.length, `killed with ${attempted} of ${queued.length} sends attempted`)
  await sleep(500)
  emulator.setDelay(0)

  const second = await spawnService(t, env)
  const settled = async () => {
    const { body } = await admin(base, '/outbox?limit=100')
    const items = body.items as Array<{ status: string }>
    return items.length === queued.length && items.every(item => item.status === 'sent' || item.status === 'unknown') ? items : undefined
  }
  let items: Array<{ status: string }> | undefined
  for (let i = 0; i < 300 && items === undefined; i++) items = await settled() ?? (await sleep(50), undefined)
  second.child.kill('SIGTERM')
  await second.exited
  t.ok(items !== undefined, 'every message settled: sent or unknown')
  const seen = counted(emulator)
  t.same([...seen.values()].filter(times => times > 1), [], 'no message reached Meta twice')
  const unknown = items!.filter(item => item.status === 'unknown').length
  const sent = items!.filter(item => item.status === 'sent').length
  t.ok(unknown >= 1, `the ones in flight at the kill are unknown (${unknown}), never sent again`)
  t.equal(sent + unknown, queued.length)
  t.ok(queued.filter(text => !seen.has(text)).length <= unknown, 'a message missing at Meta is one of the unknown ones')
  t.ok(sent >= queued.length - attempted, 'every message never attempted before the kill was sent after the restart')

  const db = await openPglite(join(dataDir, 'pglite'))
  t.teardown(() => db.close())
  const unknownRows = await db.query<{ error: string, attempts: number }>("SELECT error, attempts FROM outbox WHERE status = 'unknown'")
  t.ok(unknownRows.every(row => row.error === 'no_answer' && row.attempts === 1), 'unknown: claimed once, no answer')
})

const databaseUrl = await testPostgresUrl(t)
const onPostgres = { skip: databaseUrl === undefined ? POSTGRES_SKIP : false }

t.test('two replicas on one PostgreSQL share the outbox: per-customer order, the per-Page rate held, nothing twice', onPostgres, async t => {
  const { baseA, emulator, a, b } = await twoReplicas(t, databaseUrl!)
  const customers = Array.from({ length: 12 }, (_, i) => String(2_600_000_000_000_000 + i))
  await prepare(t, baseA, emulator, customers)
  const before = emulator.sentMessages.length
  // Queued through both replicas, so each has rows to claim and each one's sender is woken.
  const half = customers.length / 2
  const queueing = [queueReplies(baseA, customers.slice(0, half), 5), queueReplies(b.base, customers.slice(half), 5)]
  const queued = (await Promise.all(queueing)).flat()
  // Halfway, one replica stops (SIGTERM): it lets go of the Page and the other goes on from there.
  for (let i = 0; i < 400 && emulator.sentMessages.length - before < queued.length / 2; i++) await sleep(20)
  b.child.kill('SIGTERM')
  t.equal((await b.exited)[0], 0, 'the stopped replica exits cleanly')
  for (let i = 0; i < 600 && emulator.sentMessages.length - before < queued.length; i++) await sleep(20)
  a.child.kill('SIGTERM')
  await a.exited

  const sent = emulator.sentMessages.slice(before)
  t.equal(sent.length, queued.length, 'every message sent')
  t.same([...counted(emulator).values()].filter(times => times > 1), [], 'none twice')
  for (const psid of customers) {
    const replies = sent.filter(message => message.psid === psid)
    const order = replies.map(message => Number(/^reply (\d+)/.exec(String(message.message.text))![1]))
    t.same(order, [0, 1, 2, 3, 4], `customer ${psid.slice(-2)} got their replies in the order they were queued`)
  }
  const times = sent.map(message => message.at).sort((x, y) => x - y)
  let busiest = 0
  for (let i = 0; i < times.length; i++) busiest = Math.max(busiest, times.filter(at => at >= times[i]! && at < times[i]! + 1000).length)
  t.ok(busiest <= 22, `at most SEND_RATE_PER_PAGE (20) in any second across both replicas, give or take a hand-over (${busiest})`)
})

t.test('a campaign killed at about half, then restarted: each customer got it at most once, and nobody was left out', async t => {
  const port = await freePort()
  const { base, emulator, env: shared } = await againstEmulator(t, port, { DATA_DIR: await seededDataDir(t) }, '40')
  const env = { ...shared, PORT: String(port) }
  const first = await spawnService(t, env)
  const customers = Array.from({ length: 60 }, (_, i) => String(2_550_000_000_000_000 + i))
  await prepare(t, base, emulator, customers)
  emulator.setDelay(150)
  const text = 'Half a campaign, then a crash'
  const created = await admin(base, '/campaigns', { name: 'Crash', text, pageIds: [PAGE] })
  t.equal((await admin(base, `/campaigns/${String(created.body.id)}/start`, {})).status, 200)
  const got = () => emulator.sentMessages.filter(sent => sent.message.text === text).length
  for (let i = 0; i < 500 && got() < customers.length / 2; i++) await sleep(10)
  first.child.kill('SIGKILL')
  await first.exited
  const atKill = got()
  t.ok(atKill > 0 && atKill < customers.length, `killed at ${atKill} of ${customers.length}`)
  emulator.setDelay(0)

  const second = await spawnService(t, env)
  const progress = await finishedCampaign(base, String(created.body.id), 300)
  second.child.kill('SIGTERM')
  await second.exited
  t.equal(progress.status, 'finished')
  const times = new Map<string, number>()
  for (const sent of emulator.sentMessages.filter(message => message.message.text === text)) {
    times.set(sent.psid, (times.get(sent.psid) ?? 0) + 1)
  }
  t.same([...times.values()].filter(n => n > 1), [], 'nobody got it twice')
  const missing = customers.filter(psid => !times.has(psid))
  t.ok(missing.length <= Number(progress.failed), `a customer without it is one whose call had begun at the kill (unknown): ${missing.length}`)
  t.equal(Number(progress.sent) + Number(progress.failed), customers.length, 'every recipient settled: sent, or unknown after the kill')
})

t.test('a campaign shared by two replicas on PostgreSQL, one stopped half-way: each customer once, in order, at the Page\'s rate', onPostgres, async t => {
  const { baseA, emulator, a, b } = await twoReplicas(t, (await testPostgresUrl(t))!)
  const customers = Array.from({ length: 40 }, (_, i) => String(2_650_000_000_000_000 + i))
  await prepare(t, baseA, emulator, customers)
  const text = 'Shared by two replicas'
  const created = await admin(b.base, '/campaigns', { name: 'Replicas', text, pageIds: [PAGE] })
  t.equal((await admin(b.base, `/campaigns/${String(created.body.id)}/start`, {})).status, 200, 'started on one replica')
  const got = () => emulator.sentMessages.filter(sent => sent.message.text === text)
  for (let i = 0; i < 400 && got().length < customers.length / 2; i++) await sleep(20)
  b.child.kill('SIGTERM')
  t.equal((await b.exited)[0], 0, 'one replica stops half-way')
  const progress = await finishedCampaign(baseA, String(created.body.id), 400)
  a.child.kill('SIGTERM')
  await a.exited
  t.match(progress, { status: 'finished', total: customers.length, sent: customers.length })
  const sent = got()
  t.equal(sent.length, customers.length, 'everyone got it')
  t.equal(new Set(sent.map(message => message.psid)).size, customers.length, 'nobody twice')
  const times = sent.map(message => message.at).sort((x, y) => x - y)
  let busiest = 0
  for (let i = 0; i < times.length; i++) busiest = Math.max(busiest, times.filter(at => at >= times[i]! && at < times[i]! + 1000).length)
  t.ok(busiest <= 22, `at most SEND_RATE_PER_PAGE (20) a second across both, give or take a hand-over (${busiest})`)
})
