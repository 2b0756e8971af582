import type { Db } from './db.js'

export interface Variant { id: string, title: string, price: string, available: boolean }

export interface Product {
  id: string
  title: string
  handle: string
  description: string
  productType: string
  vendor: string
  tags: string[]
  url: string | null
  imageUrl: string | null
  price: { min: string, max: string, currency: string }
  variants: Variant[]
  updatedAt: Date
}

export type ProductHit = Pick<Product, 'id' | 'title' | 'handle' | 'url' | 'imageUrl' | 'price' | 'variants'>

export type SyncResult = 'running' | 'ok' | 'failed'

const COLUMNS = ['title', 'handle', 'description', 'product_type', 'vendor', 'tags', 'url', 'image_url', 'min_price', 'max_price',
  'currency', 'variants', 'lowest_available_price', 'updated_at']

/** A shop's catalog: upserts that never let an older version win, removal of what a full sync did not see, search. */
export interface MatchedProduct {
  id: string
  title: string
  handle: string
  description: string
  vendor: string
  productType: string
  url: string | null
  imageUrl: string | null
  price: { min: string, max: string, currency: string }
  variants: Variant[]
}

interface MatchedRow {
  id: string,
  title: string,
  handle: string,
  description: string,
  vendor: string,
  product_type: string,
  tags: string,
  url: string | null,
  image_url: string | null,
  min_price: string,
  max_price: string,
  currency: string,
  variants: Variant[]
}

type HitRow = Pick<MatchedRow, 'id' | 'title' | 'handle' | 'url' | 'image_url' | 'min_price' | 'max_price' | 'currency' | 'variants'>

const hit = (row: HitRow): ProductHit => ({
  id: row.id,
  title: row.title,
  handle: row.handle,
  url: row.url,
  imageUrl: row.image_url,
  price: { min: row.min_price, max: row.max_price, currency: row.currency },
  variants: row.variants
})

const matched = (row: MatchedRow): MatchedProduct =>
  ({ ...hit(row), description: row.description, vendor: row.vendor, productType: row.product_type })

export function createCatalogStore (db: Db) {
  return {
    /**
     * Upserts `products` as seen at `seenAt`. A stored version with a newer `updated_at` is kept (webhooks arrive
     * out of order, and a full sync may read a product just before a webhook updates it), but is marked seen.
     */
    async upsert (shop: string, products: Product[], seenAt: Date): Promise<void> {
      if (products.length === 0) return
      const rows = products.map(p => {
        const available = p.variants.filter(v => v.available).map(v => Number(v.price))
        return {
          id: p.id,
          title: p.title,
          handle: p.handle,
          description: p.description,
          product_type: p.productType,
          vendor: p.vendor,
          tags: p.tags.join(', '),
          url: p.url,
          image_url: p.imageUrl,
          min_price: p.price.min,
          max_price: p.price.max,
          currency: p.price.currency,
          variants: p.variants,
          lowest_available_price: available.length === 0 ? null : Math.min(...available),
          updated_at: p.updatedAt
        }
      })
      const newer = COLUMNS.map(c =>
        `${c} = CASE WHEN products.updated_at <= excluded.updated_at THEN excluded.${c} ELSE products.${c} END`)
      await db.query(`
        INSERT INTO products (shop, id, ${COLUMNS.join(', ')}, seen_at)
        SELECT $1, id, ${COLUMNS.join(', ')}, $3 FROM jsonb_to_recordset($2::jsonb) AS t (id text, title text, handle text,
          description text,
          product_type text, vendor text, tags text, url text, image_url text, min_price numeric, max_price numeric, currency text,
          variants jsonb, lowest_available_price numeric, updated_at timestamptz)
        ON CONFLICT (shop, id) DO UPDATE SET ${newer.join(', ')}, seen_at = excluded.seen_at`, [shop, JSON.stringify(rows), seenAt])
    },

    /** After a finished full sync: the products it did not see are gone from the shop. */
    async removeUnseen (shop: string, syncStartedAt: Date): Promise<number> {
      return (await db.query('DELETE FROM products WHERE shop = $1 AND seen_at < $2 RETURNING id', [shop, syncStartedAt])).length
    },

    /** Fresh statistics after a full sync, so the planner knows the catalog's size (the embedded store has no autovacuum). */
    async analyze (): Promise<void> {
      await db.exec('ANALYZE products')
    },

    async remove (shop: string, id: string): Promise<void> {
      await db.query('DELETE FROM products WHERE shop = $1 AND id = $2', [shop, id])
    },

    async updatedAt (shop: string, id: string): Promise<Date | undefined> {
      const [row] = await db.query<{ updated_at: Date }>('SELECT updated_at FROM products WHERE shop = $1 AND id = $2', [shop, id])
      return row === undefined ? undefined : new Date(row.updated_at)
    },

    async count (shop: string): Promise<number> {
      return (await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM products WHERE shop = $1', [shop]))[0]!.n
    },

    /** Best match first among products with an available variant (at or under `maxPrice` when given). */
    async search (shop: string, query: string, options: { maxPrice?: number, limit: number }): Promise<ProductHit[]> {
      const rows = await db.query<HitRow>(`
        SELECT id, title, handle, url, image_url, min_price::text, max_price::text, currency, variants FROM products
        WHERE shop = $1 AND lowest_available_price IS NOT NULL AND ($3::numeric IS NULL OR lowest_available_price <= $3)
          AND ($2 = '' OR search @@ websearch_to_tsquery('english', $2))
        ORDER BY CASE WHEN $2 = '' THEN 0 ELSE ts_rank(search, websearch_to_tsquery('english', $2)) END DESC, title, id
        LIMIT $4`, [shop, query, options.maxPrice ?? null, options.limit])
      return rows.map(hit)
    },

    /**
     * Products matching **any** of `words` (each stemmed, so "shoes" finds "Shoe"), ranked by how many they match and
     * where (the title weighs most), among products with an available variant within the bounds. Without words: the
     * newest available products.
     */
    async match (shop: string, words: string[], options: { min?: number, max?: number, limit: number }): Promise<MatchedProduct[]> {
      const anyWord = words.map(word => word.replace(/[^\p{L}\p{N}]/gu, '')).filter(word => word !== '').join(' | ')
      const rows = await db.query<MatchedRow>(`
        WITH q AS (SELECT CASE WHEN $2 = '' THEN NULL ELSE to_tsquery('english', $2) END AS query)
        SELECT id, title, handle, description, vendor, product_type, tags, url, image_url, min_price::text, max_price::text,
          currency, variants
        FROM products, q
        WHERE shop = $1 AND lowest_available_price IS NOT NULL
          AND EXISTS (SELECT 1 FROM jsonb_array_elements(variants) v WHERE (v->>'available')::boolean
            AND ($3::numeric IS NULL OR (v->>'price')::numeric >= $3) AND ($4::numeric IS NULL OR (v->>'price')::numeric <= $4))
          AND (q.query IS NULL OR search @@ q.query)
        ORDER BY CASE WHEN q.query IS NULL THEN 0 ELSE ts_rank(search, q.query) END DESC, updated_at DESC, id
        LIMIT $5`, [shop, anyWord, options.min ?? null, options.max ?? null, options.limit])
      return rows.map(matched)
    },

    /** The shop's products with these ids, in the order asked (ids it does not have are left out). */
    async byIds (shop: string, ids: string[]): Promise<MatchedProduct[]> {
      if (ids.length === 0) return []
      const rows = await db.query<MatchedRow>(`
        SELECT id, title, handle, description, vendor, product_type, tags, url, image_url, min_price::text, max_price::text,
          currency, variants
        FROM products WHERE shop = $1 AND id = ANY($2::text[])`, [shop, ids])
      const found = new Map(rows.map(row => [row.id, matched(row)]))
      return ids.map(id => found.get(id)).filter(product => product !== undefined)
    },

    /** Products like `productId`: the same type, vendor or a shared tag; never itself. */
    async similar (shop: string, productId: string, limit: number): Promise<MatchedProduct[]> {
      const rows = await db.query<MatchedRow>(`
        SELECT p.id, p.title, p.handle, p.description, p.vendor, p.product_type, p.tags, p.url, p.image_url, p.min_price::text,
          p.max_price::text, p.currency, p.variants
        FROM products p JOIN products o ON o.shop = p.shop AND o.id = $2
        WHERE p.shop = $1 AND p.id <> $2 AND p.lowest_available_price IS NOT NULL
          AND ((p.product_type <> '' AND p.product_type = o.product_type) OR (p.vendor <> '' AND p.vendor = o.vendor)
            OR EXISTS (SELECT 1 FROM unnest(string_to_array(p.tags, ',')) t JOIN unnest(string_to_array(o.tags, ',')) u
              ON trim(t) <> '' AND trim(t) = trim(u)))
        ORDER BY (p.product_type = o.product_type)::int + (p.vendor = o.vendor)::int DESC, p.updated_at DESC, p.id
        LIMIT $3`, [shop, productId, limit])
      return rows.map(matched)
    },

    /** The shop's product types by how many products have them, for the greeting's quick replies. */
    async topTypes (shop: string, limit: number): Promise<string[]> {
      const rows = await db.query<{ product_type: string }>(`SELECT product_type FROM products
        WHERE shop = $1 AND product_type <> '' AND lowest_available_price IS NOT NULL
        GROUP BY product_type ORDER BY count(*) DESC, product_type LIMIT $2`, [shop, limit])
      return rows.map(row => row.product_type)
    },

    async setSync (shop: string, result: SyncResult, error: string | null = null): Promise<void> {
      await db.query('UPDATE shops SET sync_result = $2, sync_at = now(), sync_error = $3 WHERE shop = $1', [shop, result, error])
    }
  }
}

export type CatalogStore = ReturnType<typeof createCatalogStore>
