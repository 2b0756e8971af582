import { randomBytes } from 'node:crypto'
import t from 'tap'
import { parseEncryptionKeys } from '../../../plugins/core/encryption-keys.js'
import { createCipher } from '../../../plugins/store/cipher.js'
import { createStore, openStore } from '../../../plugins/store/index.js'
import { type ShopTokens, ShopUnavailableError } from '../../../plugins/store/shops.js'
import { testBackends } from '../../helper.js'

const key = randomBytes(32).toString('hex')
const HOUR = 3600_000
const tokens = (n: number, expiresInMs = HOUR): ShopTokens => ({
  accessToken: `shpat_access_${n}`, accessExpiresAt: new Date(Date.now() + expiresInMs), refreshToken: `shprt_refresh_${n}`, refreshExpiresAt: null, scopes: ['read_products']
})

for (const backend of await testBackends(t)) {
  t.test(`shops on ${backend.name}`, { skip: backend.skip ?? false }, async t => {
    const db = backend.db!
    const { store } = await openStore({ db, encryptionKeys: key })
    const shops = store.shops

    t.test('a fresh token is returned as stored, sealed at rest', async t => {
      await shops.saveInstall('fresh.myshopify.com', 'shop-ws-a', tokens(1))
      t.equal(await shops.accessToken('fresh.myshopify.com', () => t.fail('no refresh') as never), 'shpat_access_1')
      const rows = await db.query<{ token_ciphertext: string }>("SELECT token_ciphertext FROM shop_tokens WHERE shop = 'fresh.myshopify.com'")
      t.equal(rows.length, 2)
      t.notMatch(JSON.stringify(rows), /shpat_|shprt_/, 'no token in clear')
    })

    t.test('10 concurrent calls around expiry make exactly one refresh; the new pair is used from then on', async t => {
      await shops.saveInstall('expiring.myshopify.com', 'shop-ws-b', tokens(1, 60_000))
      const used: string[] = []
      const refresh = async (refreshToken: string) => {
        used.push(refreshToken)
        await new Promise(resolve => setTimeout(resolve, 50))
        return tokens(used.length + 1)
      }
      const got = await Promise.all(Array.from({ length: 10 }, () => shops.accessToken('expiring.myshopify.com', refresh)))
      t.same(used, ['shprt_refresh_1'], 'one refresh, with the stored refresh token')
      t.same(new Set(got), new Set(['shpat_access_2']), 'every caller got the renewed token')
      const later = Date.now() + HOUR
      t.equal(await shops.accessToken('expiring.myshopify.com', refresh, () => later), 'shpat_access_3')
      t.same(used, ['shprt_refresh_1', 'shprt_refresh_2'], 'the next renewal used the refresh token stored by the first')
    })

    t.test('two replicas renewing at once: one refresh, the other waits on the row lock and reads the new pair', async t => {
      await shops.saveInstall('replicas.myshopify.com', 'shop-ws-c', tokens(1, 60_000))
      const other = createStore(backend.replica!(), createCipher(parseEncryptionKeys(key))).shops
      let calls = 0
      const refresh = async () => {
        calls++
        await new Promise(resolve => setTimeout(resolve, 100))
        return tokens(2)
      }
      const got = await Promise.all([shops.accessToken('replicas.myshopify.com', refresh), other.accessToken('replicas.myshopify.com', refresh)])
      t.equal(calls, 1)
      t.same(got, ['shpat_access_2', 'shpat_access_2'])
    })

    t.test('invalid_grant marks the shop needs_reconnect and nothing refreshes again', async t => {
      await shops.saveInstall('refused.myshopify.com', null, tokens(1, 0))
      let calls = 0
      const refresh = async () => { calls++; return 'refused' as const }
      await t.rejects(shops.accessToken('refused.myshopify.com', refresh), ShopUnavailableError)
      t.equal(await shops.status('refused.myshopify.com'), 'needs_reconnect')
      await t.rejects(shops.accessToken('refused.myshopify.com', refresh), ShopUnavailableError)
      t.equal(calls, 1, 'it never loops')
    })

    t.test('a refresh that fails otherwise keeps the stored pair, and a later call renews it', async t => {
      await shops.saveInstall('flaky.myshopify.com', null, tokens(1, 0))
      await t.rejects(shops.accessToken('flaky.myshopify.com', async () => { throw new Error('ECONNRESET') }), /ECONNRESET/)
      t.equal(await shops.status('flaky.myshopify.com'), 'connected')
      t.equal(await shops.accessToken('flaky.myshopify.com', async refreshToken => ({ ...tokens(2), accessToken: `renewed-from-${refreshToken}` })), 'renewed-from-shprt_refresh_1')
    })

    t.test('a workspace has at most one shop; an install from Shopify keeps the assignment it had', async t => {
      await shops.saveInstall('first.myshopify.com', 'shop-ws-d', tokens(1))
      await shops.saveInstall('second.myshopify.com', 'shop-ws-d', tokens(1))
      await shops.saveInstall('second.myshopify.com', null, tokens(2))
      t.same(await db.query("SELECT shop, workspace_id FROM shops WHERE shop IN ('first.myshopify.com', 'second.myshopify.com') ORDER BY shop"),
        [{ shop: 'first.myshopify.com', workspace_id: null }, { shop: 'second.myshopify.com', workspace_id: 'shop-ws-d' }])
    })

    t.test('an unknown shop has no token', async t => {
      await t.rejects(shops.accessToken('nobody.myshopify.com', () => t.fail('no refresh') as never), ShopUnavailableError)
    })

    t.test('reencrypt moves the shop tokens to the new key (last: the other subtests use the old key)', async t => {
      await shops.saveInstall('rotate.myshopify.com', null, tokens(7))
      const newKey = randomBytes(32).toString('hex')
      await createStore(db, createCipher(parseEncryptionKeys(`${newKey},${key}`))).reencrypt()
      const onlyNew = createStore(db, createCipher(parseEncryptionKeys(newKey))).shops
      t.equal(await onlyNew.accessToken('rotate.myshopify.com', () => t.fail('no refresh') as never), 'shpat_access_7')
    })
  })
}
