import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import configPlugin from '../../../plugins/core/config.js'
import { parseEncryptionKeys } from '../../../plugins/core/encryption-keys.js'
import { createCipher } from '../../../plugins/store/cipher.js'
import { openPglite } from '../../../plugins/store/db.js'
import storePlugin, { createStore, openStore } from '../../../plugins/store/index.js'
import { migrate, MIGRATIONS } from '../../../plugins/store/migrations.js'
import { testBackends, testConfig, testDb } from '../../helper.js'

const key = randomBytes(32).toString('hex')
// Before the first t.test: a subtest that ends while this file still awaits can end the file's root test.
const backends = await testBackends(t)

const page = (id: string, tasks = ['MESSAGING']) => ({ id, name: `Page ${id}`, category: 'Shop', tasks, canMessage: tasks.includes('MESSAGING'), accessToken: `page-token-${id}` })
const user = (id: string) => ({ id, name: `User ${id}`, accessToken: `user-token-${id}` })

t.test('migration 11 on a store that ran 1-10: message counts backfilled, processed inbox items gone, the backlog kept', async t => {
  const db = await openPglite()
  t.teardown(() => db.close())
  await db.exec('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
  for (const { version, sql } of MIGRATIONS.filter(migration => migration.version <= 10)) {
    await db.exec(sql)
    await db.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version])
  }
  await db.exec(`
    INSERT INTO conversations (page_id, psid) VALUES ('p', 'long'), ('p', 'short');
    INSERT INTO messages (mid, page_id, psid, direction, text, at)
      SELECT 'm' || n, 'p', CASE WHEN n <= 3 THEN 'long' ELSE 'short' END, 'in', 'hi', now() FROM generate_series(1, 4) n;
    INSERT INTO inbox (source, body, processed_at) VALUES ('messenger', '{"done":1}', now()), ('messenger', '{"due":1}', NULL);
  `)
  t.same(await migrate(db), MIGRATIONS.filter(migration => migration.version > 10).map(({ version }) => version))
  t.same(await db.query('SELECT psid, message_count FROM conversations ORDER BY psid'), [{ psid: 'long', message_count: 3 }, { psid: 'short', message_count: 1 }])
  t.same(await db.query('SELECT body FROM inbox'), [{ body: '{"due":1}' }])
})

t.test('the store plugin forgets old delivery keys by itself', async t => {
  const db = await testDb(t)
  await db.exec("INSERT INTO messenger_events (key, kind, page_id, at) VALUES ('stale', 'postback', 'p', now() - interval '8 days')")
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(configPlugin, { config: testConfig() })
  await app.register(storePlugin, { db, housekeepingMs: 20 })
  await app.ready()
  const stale = async () => (await db.query("SELECT key FROM messenger_events WHERE key = 'stale'")).length
  for (let waited = 0; waited < 5000 && await stale() > 0; waited += 20) await sleep(20)
  t.equal(await stale(), 0)
})

for (const backend of backends) {
  t.test(`store on ${backend.name}`, { skip: backend.skip ?? false }, async t => {
    const db = backend.db!
    const { store } = await openStore({ db, encryptionKeys: key })

    t.test('migrations run once and record their versions', async t => {
      t.same(await migrate(db), [], 'nothing left to run on a migrated store')
      t.same(await db.query('SELECT version FROM schema_migrations ORDER BY version'), MIGRATIONS.map(({ version }) => ({ version })))
    })

    t.test('a connection stores the user and Pages, tokens sealed', async t => {
      await store.pages.saveConnection({ workspace: 'store-a', user: user('11'), pages: [page('101'), page('102', ['ANALYZE'])] })
      t.same(await store.pages.list('store-a'), [
        { id: '101', name: 'Page 101', category: 'Shop', tasks: ['MESSAGING'], canMessage: true, status: 'connected', subscribed: false },
        { id: '102', name: 'Page 102', category: 'Shop', tasks: ['ANALYZE'], canMessage: false, status: 'connected', subscribed: false }
      ])
      const rows = await db.query<{ token_ciphertext: string, token_key_id: string }>(
        "SELECT token_ciphertext, token_key_id FROM pages WHERE id = '101' UNION ALL SELECT token_ciphertext, token_key_id FROM facebook_users WHERE id = '11'")
      const cipher = createCipher(parseEncryptionKeys(key))
      for (const row of rows) {
        t.notMatch(row.token_ciphertext, 'token', 'no plaintext at rest')
        t.match(row.token_ciphertext, /^[A-Za-z0-9+/]+=*$/, 'base64 text')
        t.equal(row.token_key_id, cipher.currentKeyId)
      }
      t.equal(cipher.open({ ciphertext: rows[0]!.token_ciphertext, keyId: rows[0]!.token_key_id }, 'page:101'), 'page-token-101')
      t.equal(cipher.open({ ciphertext: rows[1]!.token_ciphertext, keyId: rows[1]!.token_key_id }, 'facebook-user:11'), 'user-token-11')
    })

    t.test('connecting again updates in place', async t => {
      await store.pages.saveConnection({ workspace: 'store-b', user: user('21'), pages: [page('201')] })
      await store.pages.saveConnection({ workspace: 'store-b', user: user('21'), pages: [{ ...page('201'), name: 'Renamed', tasks: [], canMessage: false }] })
      t.match(await store.pages.list('store-b'), [{ id: '201', name: 'Renamed', canMessage: false }])
      t.equal((await store.pages.list('store-b')).length, 1)
    })

    /** A customer's message, a read and an opt-in with a notification token on the Page. */
    const customerData = (pageId: string) => store.conversations.apply([{
      id: '0',
      events: [
        { kind: 'message', pageId, psid: `psid-${pageId}`, mid: `mid-${pageId}`, direction: 'in', text: 'hello', at: new Date(), fromCustomer: true },
        { kind: 'read', pageId, psid: `psid-${pageId}`, key: `read:${pageId}`, at: new Date() },
        { kind: 'optin', pageId, psid: `psid-${pageId}`, key: `optin:${pageId}`, at: new Date(), notificationToken: { token: 'ntok', frequency: 'DAILY', expiresAt: null } }
      ]
    }])
    const customerRows = async (pageId: string) => {
      const counts: Record<string, number> = {}
      for (const table of ['messages', 'conversations', 'messenger_events', 'notification_tokens']) {
        counts[table] = (await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${table} WHERE page_id = $1`, [pageId]))[0]!.n
      }
      return counts
    }
    const none = { messages: 0, conversations: 0, messenger_events: 0, notification_tokens: 0 }
    const left = { messages: 1, conversations: 1, messenger_events: 3, notification_tokens: 1 }

    t.test('a Page connected from another workspace moves there, without its conversations, and is reported', async t => {
      await store.pages.saveConnection({ workspace: 'store-c', user: user('31'), pages: [page('301'), page('302')] })
      await customerData('302')
      t.same(await customerRows('302'), left)
      const saved = await store.pages.saveConnection({ workspace: 'store-d', user: user('32'), pages: [page('302'), page('303')] })
      t.same(saved, { moved: [{ id: '302', fromWorkspace: 'store-c' }], elsewhere: [] })
      t.same((await store.pages.list('store-c')).map(p => p.id), ['301'])
      t.same((await store.pages.list('store-d')).map(p => p.id), ['302', '303'])
      t.same(await customerRows('302'), none, "workspace store-c's customers did not follow the Page")
    })

    t.test('a user who may neither message nor manage a Page cannot take it from another workspace', async t => {
      await store.pages.saveConnection({ workspace: 'store-own', user: user('41'), pages: [page('401'), page('402', ['MESSAGING', 'MANAGE'])] })
      await customerData('401')
      const saved = await store.pages.saveConnection({
        workspace: 'store-grab', user: user('42'), pages: [page('401', ['ANALYZE']), page('402', ['MANAGE']), page('403', ['ANALYZE'])]
      })
      t.same(saved, { moved: [{ id: '402', fromWorkspace: 'store-own' }], elsewhere: ['401'] })
      t.same((await store.pages.list('store-own')).map(p => p.id), ['401'], 'the ANALYZE-only Page stays')
      t.same((await store.pages.list('store-grab')).map(p => p.id), ['402', '403'], 'MANAGE moves it; a Page nobody held is stored')
      t.equal(await store.pages.token('store-own', '401'), 'page-token-401', 'its token is the owner\'s still')
      t.same(await customerRows('401'), left, 'its conversations stay')
      t.same(await db.query("SELECT user_id FROM page_connections WHERE page_id = '401'"), [{ user_id: '41' }], 'no connection recorded for the other user')
    })

    t.test('removing a Page removes what its customers left with it, in the same transaction', async t => {
      await store.pages.saveConnection({ workspace: 'store-rm', user: user('51'), pages: [page('501'), page('502')] })
      await customerData('501')
      await customerData('502')
      t.equal(await store.pages.delete('store-rm', '501'), true)
      t.same(await customerRows('501'), none)
      t.same(await customerRows('502'), left, 'the other Page keeps its own')
      t.equal(await store.pages.delete('store-other', '502'), false, 'not from another workspace')
      t.same(await customerRows('502'), left)
    })

    t.test('workspaces list with their Page counts', async t => {
      await store.pages.ensureWorkspace('store-empty')
      const workspaces = await store.pages.listWorkspaces()
      t.same(workspaces.find(w => w.id === 'store-empty'), { id: 'store-empty', pageCount: 0 })
      t.same(workspaces.find(w => w.id === 'store-d'), { id: 'store-d', pageCount: 2 })
      t.equal(typeof workspaces[0]!.pageCount, 'number')
    })

    t.test('a Page is deleted only from its own workspace', async t => {
      t.equal(await store.pages.delete('store-c', '303'), false)
      t.equal(await store.pages.delete('store-d', '303'), true)
      t.equal(await store.pages.delete('store-d', '303'), false)
    })

    t.test('reencrypt moves every token to the first key', async t => {
      const newKey = randomBytes(32).toString('hex')
      const rotated = createStore(db, createCipher(parseEncryptionKeys(`${newKey},${key}`)))
      const total = (await db.query<{ n: number }>(`SELECT ((SELECT count(*) FROM pages) + (SELECT count(*) FROM facebook_users) +
        (SELECT count(*) FROM notification_tokens))::integer AS n`))[0]!.n
      t.equal(await rotated.reencrypt(), total)
      t.equal(await rotated.reencrypt(), 0, 'a second run has nothing to do')
      const onlyNew = createCipher(parseEncryptionKeys(newKey))
      const [row] = await db.query<{ token_ciphertext: string, token_key_id: string }>("SELECT token_ciphertext, token_key_id FROM pages WHERE id = '101'")
      t.equal(onlyNew.open({ ciphertext: row!.token_ciphertext, keyId: row!.token_key_id }, 'page:101'), 'page-token-101', 'the old key is no longer needed')
    })

    t.test('leases of a worker that died end at once only where this process owns the store', async t => {
      const id = await store.inbox.add('messenger', '{}')
      const claims = async () => (await store.inbox.claim('messenger', 100)).some(item => item.id === id)
      t.ok(await claims(), 'claimed')
      t.notOk(await claims(), 'leased: not claimed twice')
      await store.inbox.releaseLeases('messenger')
      t.equal(await claims(), db.exclusive, db.exclusive ? 'the embedded store gives the lease back' : 'PostgreSQL keeps it: another replica may hold it')
      await store.inbox.markProcessed([id])
      t.same(await db.query('SELECT id FROM inbox WHERE id = $1::bigint', [id]), [], 'a processed item leaves the inbox')
    })

    t.test('delivery keys older than a week are forgotten; Shopify compliance requests stay', async t => {
      await db.exec(`
        INSERT INTO messenger_events (key, kind, page_id, psid, at) VALUES
          ('forget-old', 'postback', 'p', 's', now() - interval '8 days'), ('forget-recent', 'postback', 'p', 's', now() - interval '6 days');
        INSERT INTO shopify_webhooks (webhook_id, shop, topic, received_at) VALUES
          ('forget-old', 'a.myshopify.com', 'products/update', now() - interval '8 days'),
          ('forget-recent', 'a.myshopify.com', 'products/update', now() - interval '1 day'),
          ('forget-compliance', 'a.myshopify.com', 'customers/redact', now() - interval '30 days');
      `)
      t.ok(await store.deliveryKeys.forget(7) >= 2, 'counted')
      t.same(await db.query("SELECT key FROM messenger_events WHERE key LIKE 'forget-%'"), [{ key: 'forget-recent' }])
      t.same(await db.query("SELECT webhook_id FROM shopify_webhooks WHERE webhook_id LIKE 'forget-%' ORDER BY webhook_id"),
        [{ webhook_id: 'forget-compliance' }, { webhook_id: 'forget-recent' }])
      t.equal(await store.deliveryKeys.forget(7), 0, 'nothing left to forget')
    })

    t.test('ping answers while the database is open', async t => {
      await t.resolves(store.ping())
    })
  })
}
