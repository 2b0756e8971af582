import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { createCatalogStore } from '../plugins/store/catalog.js'
import { openPglite } from '../plugins/store/db.js'

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
const WORDS = ['blue', 'wool scarf', 'leather boots', 'organic bread', 'vintage bag', 'silk dress', 'canvas', 'croissant', 'linen shirt', 'rye loaf']

/**
 * Connects the emulator's shop to a running service through install and callback, then times the catalog sync
 * the callback starts, sampling the service's RSS while it runs.
 */
export async function timeCatalogSync (base: string, admin: string, link: string, shop: string, rssMb: () => Promise<number>) {
  const install = await request(`${base}/shopify/install?${new URLSearchParams({ link, shop })}`)
  await install.body.dump()
  const cookie = String(install.headers['set-cookie']).split(';')[0]!
  const grant = await request(String(install.headers.location))
  await grant.body.dump()
  const started = performance.now()
  const callback = await request(String(grant.headers.location), { headers: { cookie, accept: 'application/json' } })
  if (callback.statusCode !== 200) throw new Error(`the Shopify callback answered ${callback.statusCode}: ${await callback.body.text()}`)
  await callback.body.dump()
  let peakRss = 0
  for (;;) {
    peakRss = Math.max(peakRss, await rssMb())
    const res = await request(`${base}/admin/workspaces/bench/shop`, { headers: { authorization: `Bearer ${admin}` } })
    const status = await res.body.json() as { productCount: number, lastSync: { result: string | null, error: string | null } }
    if (status.lastSync.result === 'failed') throw new Error(`the catalog sync failed: ${status.lastSync.error}`)
    if (status.lastSync.result === 'ok') return { seconds: (performance.now() - started) / 1000, products: status.productCount, peakRss }
    await sleep(200)
  }
}

/** `count` searches one after another, varied terms, a third with maxPrice, after as many untimed ones to warm up. */
async function timeEach (count: number, search: (q: string, maxPrice?: number) => Promise<unknown[]>) {
  for (let i = 0; i < count; i++) await search(WORDS[i % WORDS.length]!, i % 3 === 0 ? 40 : undefined)
  const latencies: number[] = []
  let empty = 0
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    const products = await search(WORDS[i % WORDS.length]!, i % 3 === 0 ? 40 : undefined)
    latencies.push(performance.now() - started)
    if (products.length === 0) empty++
  }
  latencies.sort((a, b) => a - b)
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), empty }
}

/** Through the admin API over keep-alive: latency as an HTTP client sees it. */
export async function timeSearches (base: string, admin: string, count: number) {
  const dispatcher = new Agent({ connections: 1 })
  const result = await timeEach(count, async (q, maxPrice) => {
    const query = new URLSearchParams({ q, limit: '10', ...(maxPrice === undefined ? {} : { maxPrice: String(maxPrice) }) })
    const res = await request(`${base}/admin/workspaces/bench/products?${query}`, { dispatcher, headers: { authorization: `Bearer ${admin}` } })
    return (await res.body.json() as { products: unknown[] }).products
  })
  await dispatcher.close()
  return result
}

/** `store.catalog.search` in this process on the stopped service's embedded store: what the bot will call. */
export async function timeStoreSearches (dataDir: string, shop: string, count: number) {
  const db = await openPglite(join(dataDir, 'pglite'))
  try {
    const catalog = createCatalogStore(db)
    return await timeEach(count, (q, maxPrice) => catalog.search(shop, q, { limit: 10, ...(maxPrice === undefined ? {} : { maxPrice }) }))
  } finally {
    await db.close()
  }
}
