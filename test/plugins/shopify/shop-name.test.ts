import t from 'tap'
import { canonicalShop } from '../../../plugins/shopify/shop-name.js'

t.test('a shop name in either accepted spelling becomes name.myshopify.com', async t => {
  t.equal(canonicalShop('demo.myshopify.com'), 'demo.myshopify.com')
  t.equal(canonicalShop('  Demo-Shop.MyShopify.COM\t'), 'demo-shop.myshopify.com', 'trimmed, A-Z lower-cased')
  t.equal(canonicalShop('admin.shopify.com/store/demo-shop'), 'demo-shop.myshopify.com')
  t.equal(canonicalShop('ADMIN.SHOPIFY.COM/store/Demo'), 'demo.myshopify.com')
  t.equal(canonicalShop(`${'a'.repeat(63)}.myshopify.com`), `${'a'.repeat(63)}.myshopify.com`, '63 characters')
})

const HOSTILE = [
  '', ' ', 'demo', 'myshopify.com', '.myshopify.com', '-demo.myshopify.com',
  'demo.myshopify.com.evil.net', 'demo.myshopify.com@evil.net', 'evil.net/demo.myshopify.com', 'evil.net?demo.myshopify.com',
  'https://demo.myshopify.com', 'http://demo.myshopify.com', '//demo.myshopify.com', 'demo.myshopify.com/', 'demo.myshopify.com/admin',
  'demo.myshopify.com:443', 'demo.myshopify.com.', 'demo..myshopify.com', 'de_mo.myshopify.com', 'de mo.myshopify.com',
  'demo.myshopify.com#x', 'demo.myshopify.com%00', 'demo.myshopify.com\u0000', 'demo\n.myshopify.com', 'sub.demo.myshopify.com',
  'demo.myshopify.co', 'demo.shopify.com', 'dеmo.myshopify.com' /* Cyrillic е */, 'ＤＥＭＯ.myshopify.com' /* full-width */,
  'demo.myshopıfy.com' /* dotless ı */, 'DEMO.MYSHOPİFY.COM' /* İ lower-cases to i̇ */, 'demo\u200b.myshopify.com',
  '\u00a0demo.myshopify.com', 'demo.myshopify.com\u2028', `${'a'.repeat(64)}.myshopify.com`, 'xn--dmo-9la.myshopify.com.evil',
  'admin.shopify.com/store/', 'admin.shopify.com/store/demo/settings', 'https://admin.shopify.com/store/demo', 'admin.shopify.com/store/-demo',
  'admin.shopify.com.evil.net/store/demo', 'javascript:alert(1)', '<script>.myshopify.com', 'demo.myshopify.com\\@evil.net'
]

t.test(`${HOSTILE.length} hostile shop names are all refused`, async t => {
  const printable = (input: string) => JSON.stringify(input).replace(/[^\x20-\x7e]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  for (const input of HOSTILE) t.equal(canonicalShop(input), undefined, printable(input))
  for (const input of [undefined, null, 42, ['demo.myshopify.com'], { shop: 'demo.myshopify.com' }]) t.equal(canonicalShop(input), undefined)
})
