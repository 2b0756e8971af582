import { randomBytes } from 'node:crypto'
import t from 'tap'
import { openStore } from '../../../plugins/store/index.js'
import { catalogProduct, testBackends } from '../../helper.js'

const key = randomBytes(32).toString('hex')
for (const backend of await testBackends(t)) {
  t.test(`catalog on ${backend.name}`, { skip: backend.skip ?? false }, async t => {
    const db = backend.db!
    const { store } = await openStore({ db, encryptionKeys: key })
    const shop = `catalog-${backend.name}.myshopify.com`
    await store.shops.saveInstall(shop, null, { accessToken: 'a', accessExpiresAt: new Date(Date.now() + 3600_000), refreshToken: 'r', refreshExpiresAt: null, scopes: [] })

    t.test('an older version never overwrites a newer one, but counts as seen', async t => {
      await store.catalog.upsert(shop, [catalogProduct('1', 'Newer', { updatedAt: '2026-11-10T00:00:00Z' })], new Date('2026-11-20T00:00:00Z'))
      await store.catalog.upsert(shop, [catalogProduct('1', 'Older', { updatedAt: '2026-11-01T00:00:00Z' })], new Date('2026-11-21T00:00:00Z'))
      t.same(await db.query('SELECT title, seen_at FROM products WHERE shop = $1', [shop]), [{ title: 'Newer', seen_at: new Date('2026-11-21T00:00:00Z') }])
      await store.catalog.upsert(shop, [catalogProduct('1', 'Newest', { updatedAt: '2026-11-11T00:00:00Z' })], new Date('2026-11-21T00:00:00Z'))
      t.equal((await store.catalog.search(shop, '', { limit: 5 }))[0]!.title, 'Newest')
    })

    t.test('what a finished sync did not see is removed', async t => {
      await store.catalog.upsert(shop, [catalogProduct('2', 'Unseen', { updatedAt: '2026-11-10T00:00:00Z' })], new Date('2026-11-15T00:00:00Z'))
      t.equal(await store.catalog.removeUnseen(shop, new Date('2026-11-20T00:00:00Z')), 1)
      t.equal(await store.catalog.count(shop), 1)
    })

    t.test('full-text search: weighted, stemmed, available only, under maxPrice', async t => {
      await store.catalog.upsert(shop, [
        catalogProduct('10', 'Leather boots', { updatedAt: '2026-11-10T00:00:00Z', prices: [['60.00', false], ['90.00', true]] }),
        catalogProduct('11', 'Wool socks', { updatedAt: '2026-11-10T00:00:00Z', prices: [['8.00', true]], description: 'Made for boots' }),
        catalogProduct('12', 'Sold out boot', { updatedAt: '2026-11-10T00:00:00Z', prices: [['30.00', false]] }),
        catalogProduct('13', 'Scarf', { updatedAt: '2026-11-10T00:00:00Z', prices: [['20.00', true]], tags: ['boots', 'winter'] })
      ], new Date())
      t.same((await store.catalog.search(shop, 'boot', { limit: 10 })).map(p => p.id), ['10', '13', '11'], 'title, then tags, then description')
      t.same((await store.catalog.search(shop, 'boots', { maxPrice: 60, limit: 10 })).map(p => p.id), ['13', '11'], 'the 60.00 variant is not available')
      t.same((await store.catalog.search(shop, 'boots -wool', { limit: 10 })).map(p => p.id), ['10', '13'], 'web search syntax')
    })
  })
}
