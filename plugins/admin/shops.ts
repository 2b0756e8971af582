import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { ShopInvalidError } from '../core/errors.js'
import { canonicalShop } from '../shopify/shop-name.js'
import { WorkspaceParams } from './params.js'

const NoShopError = createError('MSB_SHOP_NOT_FOUND', 'This workspace has no Shopify store.', 404)
const NotInstalledError = createError('MSB_SHOP_NOT_INSTALLED', 'The app is not installed on this store: the owner installs it first.', 404)

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])
// Response schemas serialize only the listed fields: a token added to a row can never reach the wire.
const ShopSummary = Type.Object({
  shop: Type.String(),
  workspace: nullable(Type.String()),
  status: Type.Union([Type.Literal('connected'), Type.Literal('needs_reconnect'), Type.Literal('uninstalled')]),
  scopes: Type.Array(Type.String()),
  productCount: Type.Integer(),
  lastSync: Type.Object({ at: nullable(Type.String()), result: nullable(Type.String()), error: nullable(Type.String()) })
})
const Money = Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?$' })
const ProductHits = Type.Object({
  products: Type.Array(Type.Object({
    id: Type.String(),
    title: Type.String(),
    handle: Type.String(),
    url: nullable(Type.String()),
    imageUrl: nullable(Type.String()),
    price: Type.Object({ min: Money, max: Money, currency: Type.String() }),
    variants: Type.Array(Type.Object({ id: Type.String(), title: Type.String(), price: Money, available: Type.Boolean() }))
  }))
})

/** The operator's view of Shopify stores: list, assign, forget, sync, and the product search the bot will use. */
const adminShops: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store } = fastify

  async function shopOf (workspace: string) {
    const shop = await store.shops.ofWorkspace(workspace)
    if (shop === undefined) throw new NoShopError()
    return shop
  }

  const ShopList = Type.Object({ shops: Type.Array(ShopSummary) })
  fastify.get('/shops', { schema: { response: { 200: ShopList } } }, async () => ({ shops: await store.shops.list() }))

  fastify.get('/workspaces/:workspace/shop', { schema: { params: WorkspaceParams, response: { 200: ShopSummary } } },
    async (request) => shopOf(request.params.workspace))

  fastify.put('/workspaces/:workspace/shop', {
    schema: { params: WorkspaceParams, body: Type.Object({ shop: Type.String({ maxLength: 255 }) }), response: { 200: ShopSummary } }
  }, async (request) => {
    const shop = canonicalShop(request.body.shop)
    if (shop === undefined) throw new ShopInvalidError()
    if (!await store.shops.assign(shop, request.params.workspace)) throw new NotInstalledError()
    request.log.info({ shop, workspace: request.params.workspace }, 'shopify store assigned')
    // Its webhooks and its first sync wait for this: see the callback.
    fastify.catalogSyncs.installed(shop)
    return shopOf(request.params.workspace)
  })

  fastify.delete('/workspaces/:workspace/shop', { schema: { params: WorkspaceParams } }, async (request, reply) => {
    const shop = await store.shops.forget(request.params.workspace)
    if (shop === undefined) throw new NoShopError()
    request.log.info({ shop, workspace: request.params.workspace }, 'shopify store forgotten')
    return reply.code(204).send()
  })

  fastify.post('/workspaces/:workspace/shop/sync', { schema: { params: WorkspaceParams } }, async (request, reply) => {
    const { shop } = await shopOf(request.params.workspace)
    fastify.catalogSyncs.start(shop)
    return reply.code(202).send({ shop, catalog: { status: 'syncing' } })
  })

  fastify.get('/workspaces/:workspace/products', {
    schema: {
      params: WorkspaceParams,
      querystring: Type.Object({
        q: Type.String({ maxLength: 200, default: '' }),
        maxPrice: Type.Optional(Type.Number({ minimum: 0 })),
        limit: Type.Integer({ minimum: 1, maximum: 50, default: 10 })
      }),
      response: { 200: ProductHits }
    }
  }, async (request) => {
    const shop = await store.shops.nameOf(request.params.workspace)
    if (shop === undefined) throw new NoShopError()
    const { q, maxPrice, limit } = request.query
    return { products: await store.catalog.search(shop, q.trim(), { ...(maxPrice === undefined ? {} : { maxPrice }), limit }) }
  })
}

export default adminShops
