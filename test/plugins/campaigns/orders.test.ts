import t from 'tap'
import { testDb, untrackedLinks } from '../../helper.js'
import { eventually, SHOP, startSalesStack } from '../../sales-stack.js'

/** Orders attributed to the conversation and campaign whose cart link they came from, over real HTTP. */
const db = await testDb(t)
const stack = await startSalesStack(t, db, 'orders', { env: { SHOPIFY_SCOPES: 'read_products,read_orders' } })
const { facebook, shopify, admin } = stack
const PAGE = '104000000000001'
const PSID = '2800000000000001'
const ORDER = {
  id: 4507894690001,
  total_price: '72.50',
  currency: 'EUR',
  created_at: new Date().toISOString(),
  email: 'jon.snow@example.com',
  phone: '+15551234567',
  customer: { id: 207119551, email: 'jon.snow@example.com', first_name: 'Jon', last_name: 'Snow' },
  shipping_address: { name: 'Jon Snow', address1: '1 Wall Street', city: 'Winterfell' }
}

t.test('a campaign\'s cart link carries its reference; the signed orders/create that comes back is attributed, keeping nothing of the customer', async t => {
  t.ok(shopify.subscriptions.get(SHOP)?.has('ORDERS_CREATE'), 'with read_orders, the shop is subscribed to new orders')
  t.equal((await admin('/bot', { method: 'PUT', body: { enabled: false } })).status, 200)
  await facebook.deliverMessage(PAGE, PSID, 'hello')
  await eventually(async () => (await db.query('SELECT 1 FROM conversations WHERE psid = $1', [PSID])).length > 0 || undefined)
  const { body } = await admin('/campaigns', { method: 'POST', body: { name: 'Orders', text: 'Buy the scarf!', productIds: ['27'], pageIds: [PAGE] } })
  const id = String(body.id)
  await admin(`/campaigns/${id}/start`, { method: 'POST', body: {} })
  await eventually(async () => ((await admin(`/campaigns/${id}`)).body.status === 'finished') || undefined)
  type Carousel = { attachment: { payload: { elements: Array<{ buttons: Array<{ title: string, url?: string }> }> } } }
  const carousel = facebook.sentMessages.find(sent => sent.psid === PSID && sent.message.attachment !== undefined)!
  const buyNow = new URL(untrackedLinks(carousel.message as Carousel).attachment.payload.elements[0]!.buttons.find(b => b.title === 'Buy now')!.url!)
  t.equal(`${buyNow.origin}${buyNow.pathname}`, `https://${SHOP}/cart/270:1`)
  const ref = buyNow.searchParams.get('attributes[msb_ref]')!
  t.match(ref, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, 'the cart attribute Shopify copies to the order')

  const order = { ...ORDER, note_attributes: [{ name: 'gift', value: 'no' }, { name: 'msb_ref', value: ref }] }
  t.equal(await shopify.deliverWebhook(SHOP, 'orders/create', order), 200)
  const progress = await eventually(async () => {
    const current = (await admin(`/campaigns/${id}`)).body as { orders: number, revenue: unknown }
    return current.orders > 0 ? current : undefined
  })
  t.match(progress, { orders: 1, revenue: { amount: '72.50', currency: 'EUR' } })
  const today = new Date().toISOString().slice(0, 10)
  t.match((await admin(`/analytics?from=${today}&to=${today}`)).body, { totals: { orders: 1, revenue: [{ amount: '72.50', currency: 'EUR' }] } })
  const kept = await db.query<Record<string, unknown>>('SELECT * FROM attributed_orders')
  t.same(Object.keys(kept[0]!).sort(), ['at', 'campaign_id', 'currency', 'order_id', 'page_id', 'psid', 'shop', 'total', 'workspace_id'])
  t.match(kept[0], { order_id: String(ORDER.id), page_id: PAGE, psid: PSID, campaign_id: id, currency: 'EUR' })
  for (const table of ['inbox', 'attributed_orders', 'shopify_webhooks', 'messenger_events']) {
    const dump = JSON.stringify(await db.query(`SELECT * FROM ${table}`))
    t.notOk(/jon|snow|wall street|5551234567/i.test(dump), `nothing of the customer in ${table}`)
  }

  t.equal(await shopify.deliverWebhook(SHOP, 'orders/create', { ...order, id: 4507894690002 }), 200, 'another order, same cart')
  t.equal(await shopify.deliverWebhook(SHOP, 'orders/create', {
    ...order, id: 4507894690003, note_attributes: [{ name: 'msb_ref', value: `${ref.slice(0, -3)}AAA` }]
  }), 200, 'a forged reference')
  t.equal(await shopify.deliverWebhook(SHOP, 'orders/create', { ...order, id: 4507894690004, note_attributes: [] }), 200, 'an order from elsewhere')
  await eventually(async () => (await db.query('SELECT 1 FROM attributed_orders')).length === 2 || undefined)
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal((await db.query('SELECT 1 FROM attributed_orders')).length, 2, 'only orders with a true reference are attributed')

  t.equal(await shopify.deliverWebhook(SHOP, 'customers/redact', {
    shop_id: 1, shop_domain: SHOP, customer: { id: 207119551 }, orders_to_redact: [ORDER.id]
  }), 200)
  await eventually(async () => (await db.query('SELECT 1 FROM attributed_orders')).length === 1 || undefined)
  t.pass('customers/redact erased that customer\'s order')
  t.equal(await shopify.deliverWebhook(SHOP, 'shop/redact', { shop_id: 1, shop_domain: SHOP }), 200)
  await eventually(async () => (await db.query('SELECT 1 FROM attributed_orders')).length === 0 || undefined)
  t.pass('shop/redact erased the rest')
})
