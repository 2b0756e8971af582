import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { openPglite } from '../plugins/store/db.js'
import { startFacebookEmulator } from '../tools/emulator/facebook.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, freePort, seededDataDir } from './helper.js'
import { browser } from './http-client.js'
import { spawnService } from './service-process.js'

// One delivery near the 1 MiB limit takes the worker long enough that the kill, sent the moment its 200 arrives,
// always lands before it is processed. 20 messages for each of 200 customers: every one is kept.
const CUSTOMERS = 200
const MESSAGES_EACH = 20

const port = await freePort()
const base = `http://127.0.0.1:${port}`
const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true, serviceUrl: base })
t.teardown(emulator.close)
const dataDir = await seededDataDir(t)
const env = {
  FACEBOOK_GRAPH_URL: emulator.url,
  FACEBOOK_DIALOG_URL: emulator.url,
  FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
  MESSENGER_VERIFY_TOKEN: 'crash-verify-token-0123',
  TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  DATA_DIR: dataDir,
  PORT: String(port)
}

/** Reads the embedded store while no service has it open. */
async function inspect<T> (read: (query: (sql: string) => Promise<number>) => Promise<T>): Promise<T> {
  const db = await openPglite(join(dataDir, 'pglite'))
  try {
    return await read(async sql => (await db.query<{ n: number }>(sql))[0]!.n)
  } finally {
    await db.close()
  }
}

t.test('deliveries acknowledged just before a SIGKILL are processed once after the restart', async t => {
  const first = await spawnService(t, env)
  const minted = await request(`${base}/admin/workspaces/crash/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const { url } = await minted.body.json() as { url: string }
  t.equal((await browser('application/json').follow(url.replace('/connect?', '/facebook/login?'))).status, 200, 'Pages connected')
  const pageId = emulator.pages.find(page => page.tasks.includes('MESSAGING'))!.id
  // The inbox is what this test is about: the bot's replies would add to the conversations and trim customers' messages.
  const off = await request(`${base}/admin/workspaces/crash/bot`, {
    method: 'PUT', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ enabled: false, greeting: null, maxProducts: 5 })
  })
  t.equal(off.statusCode, 200, 'bot off')
  await off.body.dump()

  const entries = Array.from({ length: CUSTOMERS * MESSAGES_EACH }, (_, n) => ({ pageId, psid: String(3_100_000 + n % CUSTOMERS), text: `crash test ${n}` }))
  t.equal(await emulator.deliverMessages(entries), 200, 'acknowledged')
  first.child.kill('SIGKILL')
  await first.exited

  const unprocessed = await inspect(count => count('SELECT count(*)::integer AS n FROM inbox'))
  t.equal(unprocessed, 1, 'the acknowledged delivery was stored and not yet processed when the process was killed')

  const second = await spawnService(t, env)
  const conversations = async () => {
    let total = 0
    let cursor: string | null = null
    do {
      const query: string = `limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
      const res = await request(`${base}/admin/workspaces/crash/pages/${pageId}/conversations?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      const page = await res.body.json() as { conversations: Array<{ messages: unknown[] }>, nextCursor: string | null }
      total += page.conversations.length
      cursor = page.nextCursor
    } while (cursor !== null)
    return total
  }
  for (let attempt = 0; await conversations() < CUSTOMERS && attempt < 300; attempt++) await sleep(100)
  second.child.kill('SIGTERM')
  t.equal((await second.exited)[0], 0, 'the restarted service stops cleanly')

  const after = await inspect(async count => ({
    inbox: await count('SELECT count(*)::integer AS n FROM inbox'),
    messages: await count("SELECT count(*)::integer AS n FROM messages WHERE text LIKE 'crash test %'"),
    conversations: await count('SELECT count(*)::integer AS n FROM conversations')
  }))
  t.same(after, { inbox: 0, messages: CUSTOMERS * MESSAGES_EACH, conversations: CUSTOMERS },
    'processed once after the restart (and so gone from the inbox): every message stored, one conversation per customer')
})
