import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import { checkerFor } from '../core/http-json.js'
import { plainText } from '../core/plain-text.js'
import type { Product } from '../store/catalog.js'
import type { Store } from '../store/index.js'
import { ShopUnavailableError } from '../store/shops.js'
import { ShopifyCallTimeoutError, ShopifyError, type ShopifyClient, ShopifyUnavailableError } from './client.js'

// Shopify prices a query before running it: a connection costs 2 + first × (its node's cost). A product here
// costs 23 (itself, its image, its price range of 3, and 2 + 16 variants), so 40 a page asks for 922 of the
// 1,000 points a single query may cost.
export const PAGE_SIZE = 40
const VARIANTS_PER_PRODUCT = 16
const DESCRIPTION_CHARACTERS = 1000
const MAX_ATTEMPTS = 5

const PRODUCT_FIELDS = `id legacyResourceId status title handle description(truncateAt: ${DESCRIPTION_CHARACTERS})
      productType vendor tags onlineStoreUrl updatedAt
      featuredImage { url }
      priceRangeV2 { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
      variants(first: ${VARIANTS_PER_PRODUCT}) { nodes { legacyResourceId title price availableForSale } }`

export const PRODUCTS_QUERY = `query Products($first: Int!, $after: String) {
  products(first: $first, after: $after, query: "status:active") {
    pageInfo { hasNextPage endCursor }
    nodes { ${PRODUCT_FIELDS} }
  }
}`

export const PRODUCT_QUERY = `query Product($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`

const Money = Type.Object({ amount: Type.String(), currencyCode: Type.String() })
const ProductNode = Type.Object({
  legacyResourceId: Type.String({ pattern: '^[0-9]{1,20}$' }),
  status: Type.String(),
  title: Type.String(),
  handle: Type.String(),
  description: Type.String(),
  productType: Type.String(),
  vendor: Type.String(),
  tags: Type.Array(Type.String()),
  onlineStoreUrl: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.String(),
  featuredImage: Type.Union([Type.Object({ url: Type.String() }), Type.Null()]),
  priceRangeV2: Type.Object({ minVariantPrice: Money, maxVariantPrice: Money }),
  variants: Type.Object({
    nodes: Type.Array(Type.Object({
      legacyResourceId: Type.String(), title: Type.String(), price: Type.String(), availableForSale: Type.Boolean()
    }))
  })
})
const ProductsPage = Type.Object({
  products: Type.Object({
    pageInfo: Type.Object({ hasNextPage: Type.Boolean(), endCursor: Type.Union([Type.String(), Type.Null()]) }),
    nodes: Type.Array(ProductNode)
  })
})
const OneProduct = Type.Object({ product: Type.Union([ProductNode, Type.Null()]) })
const GraphqlAnswer = Type.Object({
  data: Type.Optional(Type.Unknown()),
  errors: Type.Optional(Type.Array(Type.Object({
    message: Type.String(),
    extensions: Type.Optional(Type.Object({ code: Type.Optional(Type.String()) }))
  }))),
  extensions: Type.Optional(Type.Object({
    cost: Type.Optional(Type.Object({
      requestedQueryCost: Type.Number(),
      throttleStatus: Type.Object({ maximumAvailable: Type.Number(), currentlyAvailable: Type.Number(), restoreRate: Type.Number() })
    }))
  }))
})

type Answer = typeof GraphqlAnswer.static
type ProductNodeData = typeof ProductNode.static

export const toProduct = (node: ProductNodeData): Product => ({
  id: node.legacyResourceId,
  title: plainText(node.title),
  handle: node.handle,
  description: plainText(node.description, { keepLines: true }),
  productType: plainText(node.productType),
  vendor: plainText(node.vendor),
  tags: node.tags.map(tag => plainText(tag)),
  url: node.onlineStoreUrl,
  imageUrl: node.featuredImage?.url ?? null,
  price: {
    min: node.priceRangeV2.minVariantPrice.amount,
    max: node.priceRangeV2.maxVariantPrice.amount,
    currency: node.priceRangeV2.minVariantPrice.currencyCode
  },
  variants: node.variants.nodes.map(v =>
    ({ id: v.legacyResourceId, title: plainText(v.title), price: v.price, available: v.availableForSale })),
  updatedAt: new Date(node.updatedAt)
})

/** Seconds until the bucket holds `needed` points again. */
const refillSeconds = (cost: NonNullable<NonNullable<Answer['extensions']>['cost']>, needed: number) =>
  Math.max(0, Math.ceil((needed - cost.throttleStatus.currentlyAvailable) / cost.throttleStatus.restoreRate))

export interface SyncDependencies {
  shopify: ShopifyClient
  store: Store
  log: FastifyBaseLogger
  wait?: (ms: number) => Promise<unknown>
  /** stops the sync before its next page (the server is closing) */
  signal?: AbortSignal
}

/** The deps' wait, or a sleep that a closing server cuts short (it does not wait out a backoff). */
const waiter = ({ wait, signal }: SyncDependencies) => wait ?? ((ms: number) => sleep(ms, undefined, { signal }))

/**
 * A GraphQL Admin API query with a token from the store (renewed when it expires soon): THROTTLED waits for the
 * bucket; 429, 5xx and timeouts are retried with Retry-After or backoff, a bounded number of times; a 401
 * marks the shop needs_reconnect.
 */
async function adminQuery (
  shop: string, deps: SyncDependencies, graphqlQuery: string, variables: Record<string, unknown>
): Promise<Answer> {
  const { shopify, store, log } = deps
  const wait = waiter(deps)
  for (let attempt = 1; ; attempt++) {
    const token = await store.shops.accessToken(shop, refreshToken => shopify.refresh(shop, refreshToken))
    let answer: Answer
    try {
      answer = await shopify.graphql(shop, token, graphqlQuery, variables, GraphqlAnswer)
    } catch (err) {
      if (err instanceof ShopifyError && err.status === 401) {
        // The token was fresh or just renewed: the grant itself is gone.
        await store.shops.markNeedsReconnect(shop)
        throw new ShopUnavailableError(`Shopify refused the token of ${shop}`, { cause: err })
      }
      const retryable = err instanceof ShopifyCallTimeoutError || err instanceof ShopifyUnavailableError ||
        (err instanceof ShopifyError && (err.status === 429 || err.status >= 500))
      if (!retryable || attempt >= MAX_ATTEMPTS) throw err
      const seconds = err instanceof ShopifyError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds : 2 ** (attempt - 1)
      log.warn({ shop, attempt, err }, 'shopify call failed, retrying')
      await wait(seconds * 1000)
      continue
    }
    const cost = answer.extensions?.cost
    if (answer.errors?.some(e => e.extensions?.code === 'THROTTLED') === true) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('Shopify kept throttling the query')
      await wait((cost === undefined ? 1 : Math.max(1, refillSeconds(cost, cost.requestedQueryCost))) * 1000)
      continue
    }
    if (answer.errors !== undefined && answer.errors.length > 0) throw new Error(`Shopify GraphQL error: ${answer.errors[0]!.message}`)
    return answer
  }
}

/**
 * One full sync: every active product, page by page into the store (memory does not grow with the catalog),
 * then what it did not see is removed. Throttling, 429, 5xx and timeouts are retried a bounded number of times;
 * a sync that fails records why and keeps the catalog it had.
 */
export async function syncCatalog (shop: string, deps: SyncDependencies): Promise<{ products: number, removed: number }> {
  const { store, log, signal } = deps
  const wait = waiter(deps)
  const started = new Date()
  let after: string | null = null
  let products = 0

  await store.catalog.setSync(shop, 'running')
  try {
    do {
      signal?.throwIfAborted()
      const answer = await adminQuery(shop, deps, PRODUCTS_QUERY, { first: PAGE_SIZE, after })
      if (!checkerFor(ProductsPage).Check(answer.data)) throw new Error('Shopify answered the catalog query without the expected fields')
      const page = (answer.data as typeof ProductsPage.static).products
      await store.catalog.upsert(shop, page.nodes.map(toProduct), started)
      products += page.nodes.length
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null
      // Pace the next page by what the bucket holds, rather than hitting THROTTLED.
      const cost = answer.extensions?.cost
      if (after !== null && cost !== undefined) {
        const seconds = refillSeconds(cost, cost.requestedQueryCost)
        if (seconds > 0) await wait(seconds * 1000)
      }
    } while (after !== null)
    const removed = await store.catalog.removeUnseen(shop, started)
    await store.catalog.analyze()
    await store.catalog.setSync(shop, 'ok')
    log.info({ shop, products, removed }, 'shopify catalog synced')
    return { products, removed }
  } catch (err) {
    await store.catalog.setSync(shop, 'failed', (err as Error).message.slice(0, 300))
    log.warn({ shop, err }, 'shopify catalog sync failed')
    throw err
  }
}

/**
 * A webhook said a product changed at `updatedAt`: unless the stored version is as new, read it again and store
 * it, or remove it when it is gone or no longer active. Returns what happened.
 */
export async function refreshProduct (
  shop: string, id: string, updatedAt: Date, deps: SyncDependencies
): Promise<'kept' | 'stored' | 'removed'> {
  const stored = await deps.store.catalog.updatedAt(shop, id)
  if (stored !== undefined && stored >= updatedAt) return 'kept'
  const answer = await adminQuery(shop, deps, PRODUCT_QUERY, { id: `gid://shopify/Product/${id}` })
  if (!checkerFor(OneProduct).Check(answer.data)) throw new Error('Shopify answered the product query without the expected fields')
  const node = (answer.data as typeof OneProduct.static).product
  if (node === null || node.status !== 'ACTIVE') {
    await deps.store.catalog.remove(shop, id)
    return 'removed'
  }
  await deps.store.catalog.upsert(shop, [toProduct(node)], new Date())
  return 'stored'
}
