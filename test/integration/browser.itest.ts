import { mkdir } from 'node:fs/promises'
import { chromium, type Browser } from 'playwright-core'
import t from 'tap'
import { DEFAULT_PAGES, startFacebookEmulator } from '../../tools/emulator/facebook.js'
import { startShopifyEmulator } from '../../tools/emulator/shopify.js'
import { APP_ID, APP_SECRET, build, freePort, mintLink, testDb } from '../helper.js'

/** Headless Chromium (Debian's package) clicking through the connect page, the emulator's dialog and the result. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SCREENSHOTS = '.tap/screenshots'
// The page's window, typed just enough: this project compiles without the DOM library.
interface CssWindow { getComputedStyle (element: unknown): { backgroundColor: string } }

const db = await testDb(t)
const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET })
t.teardown(emulator.close)
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const app = await build(t, { db, env: { FACEBOOK_GRAPH_URL: emulator.url, FACEBOOK_DIALOG_URL: emulator.url, FACEBOOK_REDIRECT_URI: `${base}/facebook/callback` } })
await app.listen({ port, host: '127.0.0.1' })

const browser: Browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
})
t.teardown(() => browser.close())
await mkdir(SCREENSHOTS, { recursive: true })

t.test('connect link -> Connect with Facebook -> dialog -> the result page lists the Pages', async t => {
  const page = await browser.newPage()
  t.teardown(() => page.close())
  const { url } = await mintLink(app, 'browser-ok')
  await page.goto(url)
  t.equal(await page.title(), 'Connect your Facebook Pages')
  t.equal(await page.locator('a.button').evaluate(el => (globalThis as unknown as CssWindow).getComputedStyle(el).backgroundColor), 'rgb(24, 119, 242)',
    'the stylesheet applies under the CSP (allowed by its hash)')
  await page.getByRole('link', { name: 'Connect with Facebook' }).click()
  await page.waitForURL(`${emulator.url}/**`)
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL(`${base}/connect?**`)
  t.match(await page.locator('.notice').first().textContent(), 'Your Facebook Pages are connected')
  const listed = await page.locator('li strong').allTextContents()
  t.same(listed.sort(), DEFAULT_PAGES.map(p => p.name).sort())
  t.equal(await page.getByText('Grant the missing permissions').count(), 0)
  await page.screenshot({ path: `${SCREENSHOTS}/result-page.png`, fullPage: true })
  t.pass(`screenshot saved to ${SCREENSHOTS}/result-page.png`)
})

t.test('declining a permission, then following "grant the missing permissions"', async t => {
  const page = await browser.newPage()
  t.teardown(() => page.close())
  await page.goto((await mintLink(app, 'browser-declined')).url)
  await page.getByRole('link', { name: 'Connect with Facebook' }).click()
  await page.waitForURL(`${emulator.url}/**`)
  await page.getByLabel('pages_messaging').uncheck()
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL(`${base}/connect?**`)
  t.match(await page.locator('.notice').nth(1).textContent(), 'Some permissions were not granted: pages_messaging')
  await page.screenshot({ path: `${SCREENSHOTS}/declined-page.png`, fullPage: true })

  await page.getByRole('link', { name: 'Grant the missing permissions' }).click()
  await page.waitForURL(`${emulator.url}/**`)
  t.equal(new URL(page.url()).searchParams.get('auth_type'), 'rerequest', 'the dialog is asked to re-request')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL(`${base}/connect?**`)
  t.equal(await page.getByText('Some permissions were not granted').count(), 0, 'nothing is missing any more')
  t.match(await page.locator('.notice').first().textContent(), 'Your Facebook Pages are connected')
})

t.test('connect link -> Connect your Shopify store -> the grant screen -> back, connected (the CSP lets the form through)', async t => {
  const shopify = await startShopifyEmulator({ apiKey: 'browser-shopify-key', apiSecret: 'browser-shopify-secret', products: 12 })
  t.teardown(shopify.close)
  const shopPort = await freePort()
  const shopBase = `http://127.0.0.1:${shopPort}`
  const shopApp = await build(t, {
    db,
    env: {
      FACEBOOK_GRAPH_URL: emulator.url,
      FACEBOOK_DIALOG_URL: emulator.url,
      FACEBOOK_REDIRECT_URI: `${shopBase}/facebook/callback`,
      SHOPIFY_API_KEY: 'browser-shopify-key',
      SHOPIFY_API_SECRET: 'browser-shopify-secret',
      SHOPIFY_REDIRECT_URI: `${shopBase}/shopify/callback`,
      SHOPIFY_SHOP_ORIGIN: shopify.shopOrigin
    }
  })
  await shopApp.listen({ port: shopPort, host: '127.0.0.1' })
  const page = await browser.newPage()
  t.teardown(() => page.close())
  const refused: string[] = []
  page.on('console', message => { if (/Content Security Policy/i.test(message.text())) refused.push(message.text()) })
  await page.goto((await mintLink(shopApp, 'browser-shop')).url)
  t.equal(await page.title(), 'Connect your Facebook Pages and Shopify store')
  const button = page.getByRole('button', { name: 'Connect your Shopify store' })
  t.equal(await button.evaluate(el => (globalThis as unknown as CssWindow).getComputedStyle(el).backgroundColor), 'rgb(24, 119, 242)',
    'styled like the Facebook button')
  await page.getByLabel('Store address').fill('browser-shop.myshopify.com')
  await button.click()
  await page.waitForURL(`${shopify.url}/**`)
  await page.getByRole('button', { name: 'Install app' }).click()
  await page.waitForURL(`${shopBase}/connect?**`)
  t.match(await page.locator('.notice').first().textContent(), 'Your Shopify store is connected.')
  t.match(await page.locator('body').textContent(), /browser-shop\.myshopify\.com: connected, (its catalog is syncing|12 products)/)
  t.same(refused, [], 'no CSP refusal on the way')
  await page.screenshot({ path: `${SCREENSHOTS}/shopify-connected.png`, fullPage: true })
})
