import { mkdir, stat } from 'node:fs/promises'
import { chromium, type Browser } from 'playwright-core'
import t from 'tap'
import { DEFAULT_PAGES, startFacebookEmulator } from '../../tools/emulator/facebook.js'
import { startShopifyEmulator } from '../../tools/emulator/shopify.js'
import { APP_ID, APP_SECRET, build, destinationOf, freePort, mintLink, testDb } from '../helper.js'
import { startSalesStack } from '../sales-stack.js'

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

t.test('the demo\'s Messenger: a customer asks, sees the carousel, taps "More like this", then "Talk to a person"', async t => {
  const stack = await startSalesStack(t, db, 'browser-messenger')
  const page = await browser.newPage({ viewport: { width: 420, height: 820 } })
  t.teardown(() => page.close())
  await page.goto(`${stack.facebook.url}/emulator/messenger?page=104000000000001&psid=2400000000000777`)
  t.equal(await page.title(), 'Messenger (emulator)')
  await page.getByLabel('Message').fill('do you have a wool scarf under 80?')
  await page.getByRole('button', { name: 'Send' }).click()

  const cards = page.locator('section.cards article.card')
  await cards.first().waitFor()
  t.match(await page.locator('p.bubble.page').first().textContent(), /^You're chatting with an automated assistant\./)
  t.equal(await cards.first().locator('h3').textContent(), 'Wool Scarf 27')
  t.equal(await cards.first().locator('p').textContent(), '€72.50 · Corner Store')
  t.equal(destinationOf((await cards.first().getByRole('link', { name: 'Buy now' }).getAttribute('href'))!), 'https://corner-store.myshopify.com/cart/270:1')
  t.equal(await cards.first().locator('img').evaluate(img => (img as unknown as { naturalWidth: number }).naturalWidth), 382,
    'the product image loaded')
  await page.screenshot({ path: `${SCREENSHOTS}/messenger-carousel.png`, fullPage: true })

  await cards.first().getByRole('button', { name: 'More like this' }).click()
  await page.getByText('Here are some like it:').waitFor()
  const similar = page.locator('section.cards').nth(1).locator('h3')
  await similar.first().waitFor()
  t.notOk((await similar.allTextContents()).includes('Wool Scarf 27'), 'products like it, never itself')

  await page.locator('#quick-replies').getByRole('button', { name: 'Talk to a person' }).click()
  await page.getByText('A person from the shop will answer you here as soon as they can.').waitFor()
  await page.getByText('A person has this conversation (Page Inbox)').waitFor()
  t.ok(stack.facebook.withPageInbox('104000000000001', '2400000000000777'), 'the thread went to the Page Inbox')
  await page.screenshot({ path: `${SCREENSHOTS}/messenger-handover.png`, fullPage: true })
  const shots = await Promise.all(['messenger-carousel', 'messenger-handover'].map(name => stat(`${SCREENSHOTS}/${name}.png`)))
  t.ok(shots.every(shot => shot.size > 10_000), 'screenshots saved with something on them')
})

t.test('the owner\'s console: open it from the connect link, answer a customer, take over, run a campaign, see the results', async t => {
  const stack = await startSalesStack(t, db, 'browser-console')
  const PAGE = '104000000000001'
  const PSID = '2400000000000888'
  const customer = await browser.newPage({ viewport: { width: 420, height: 820 } })
  t.teardown(() => customer.close())
  await customer.goto(`${stack.facebook.url}/emulator/messenger?page=${PAGE}&psid=${PSID}`)
  await customer.getByLabel('Message').fill('do you have a wool scarf?')
  await customer.getByRole('button', { name: 'Send' }).click()
  await customer.locator('section.cards article.card').first().waitFor()

  // The owner answers from a phone.
  const owner = await browser.newPage({ viewport: { width: 390, height: 844 } })
  t.teardown(() => owner.close())
  const refused: string[] = []
  owner.on('console', message => { if (/Content Security Policy/i.test(message.text())) refused.push(message.text()) })
  const { url } = (await stack.admin('/connect-links', { method: 'POST' })).body as { url: string }
  await owner.goto(url)
  await owner.getByRole('link', { name: 'Open the console' }).click()
  await owner.getByRole('heading', { name: 'Overview' }).waitFor()
  t.ok(await owner.getByText('Corner Bakery', { exact: true }).first().isVisible(), 'the Pages')
  await owner.screenshot({ path: `${SCREENSHOTS}/console-overview.png`, fullPage: true })

  await owner.getByRole('link', { name: 'Conversations' }).click()
  await owner.getByRole('heading', { name: 'Conversations' }).waitFor()
  await owner.screenshot({ path: `${SCREENSHOTS}/console-conversations.png`, fullPage: true })
  await owner.getByRole('link', { name: `Customer ${PSID}` }).click()
  await owner.getByText('do you have a wool scarf?').waitFor()
  t.ok(await owner.locator('li.cards .product').first().isVisible(), 'the bot\'s carousel as cards')
  await owner.getByLabel('Reply').fill('Hello from Sam at the shop!')
  await owner.getByRole('button', { name: 'Send' }).click()
  await owner.getByText('Your reply is on its way.').waitFor()
  await customer.getByText('Hello from Sam at the shop!').waitFor()
  t.pass('the reply arrived in Messenger')

  await customer.getByLabel('Message').fill('great, thanks!')
  await customer.getByRole('button', { name: 'Send' }).click()
  await owner.locator('ol.messages li.in', { hasText: 'great, thanks!' }).waitFor({ timeout: 10_000 })
  t.pass('the customer\'s new message appeared without a reload')

  await owner.getByRole('button', { name: 'Take over' }).click()
  await owner.getByRole('button', { name: 'Hand back to the bot' }).waitFor()
  t.ok(await owner.getByText('with a person').first().isVisible())
  await owner.screenshot({ path: `${SCREENSHOTS}/console-conversation.png`, fullPage: true })
  await owner.getByRole('button', { name: 'Hand back to the bot' }).click()
  await owner.getByRole('button', { name: 'Take over' }).waitFor()

  await owner.getByRole('link', { name: 'Campaigns' }).click()
  await owner.getByLabel('Name').fill('Scarf week')
  await owner.getByLabel('Message').fill('Scarves are 20% off this week!')
  await owner.getByLabel('Search products').fill('wool scarf')
  await owner.getByRole('button', { name: 'Search' }).click()
  await owner.getByRole('checkbox', { name: /Wool Scarf 27/ }).check()
  await owner.getByRole('button', { name: 'Create campaign' }).click()
  await owner.getByRole('button', { name: 'Start' }).click()
  const bar = owner.getByRole('progressbar')
  await owner.waitForFunction(() => {
    type Found = { getAttribute (name: string): string | null } | null
    const element = (globalThis as unknown as { document: { querySelector (selector: string): Found } }).document.querySelector('[role=progressbar]')
    const max = Number(element?.getAttribute('aria-valuemax'))
    return max > 0 && Number(element?.getAttribute('aria-valuenow')) === max
  }, undefined, { timeout: 15_000 })
  t.equal(await bar.getAttribute('aria-valuenow'), await bar.getAttribute('aria-valuemax'), 'the progress bar reached the end')
  await customer.getByText('Scarves are 20% off this week!').waitFor()
  await owner.screenshot({ path: `${SCREENSHOTS}/console-campaign.png`, fullPage: true })

  await owner.getByRole('link', { name: 'Results' }).click()
  t.match(await owner.locator('svg title').first().textContent(), /^The last 30 days/)
  await owner.screenshot({ path: `${SCREENSHOTS}/console-results.png`, fullPage: true })
  t.same(refused, [], 'no CSP refusal in the console')
  const names = ['overview', 'conversations', 'conversation', 'campaign', 'results'].map(name => `${SCREENSHOTS}/console-${name}.png`)
  const shots = await Promise.all(names.map(name => stat(name)))
  t.ok(shots.every(shot => shot.size > 10_000), `screenshots with something on them (${shots.map(s => s.size).join(', ')} bytes)`)
})
