import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { request } from 'undici'
import type { Db } from '../plugins/store/db.js'
import { startFacebookEmulator } from '../tools/emulator/facebook.js'
import { startShopifyEmulator } from '../tools/emulator/shopify.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, build, freePort } from './helper.js'
import { browser } from './http-client.js'

export const SHOP = 'corner-store.myshopify.com'

/**
 * The whole sales loop over real HTTP, as the demo runs it: the service listening on loopback with Messenger and
 * Shopify on, both emulators, and `workspace` connected to Facebook (every Page) and to the emulated shop, its
 * catalog synced. Everything stops when `t` ends.
 */
export async function startSalesStack (
  t: Test, db: Db, workspace: string,
  options: { products?: number, env?: Record<string, string>, logStream?: NodeJS.WritableStream & { write (msg: string): void } } = {}
) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const facebook = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true, serviceUrl: base })
  t.teardown(facebook.close)
  const shopify = await startShopifyEmulator({
    apiKey: 'stack-shopify-key', apiSecret: 'stack-shopify-secret', products: options.products ?? 60, webhookUrl: `${base}/shopify/webhooks`
  })
  t.teardown(shopify.close)
  const app = await build(t, {
    db,
    ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
    env: {
      FACEBOOK_GRAPH_URL: facebook.url,
      FACEBOOK_DIALOG_URL: facebook.url,
      FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
      MESSENGER_VERIFY_TOKEN: 'stack-verify-token-0123',
      SHOPIFY_API_KEY: 'stack-shopify-key',
      SHOPIFY_API_SECRET: 'stack-shopify-secret',
      SHOPIFY_REDIRECT_URI: `${base}/shopify/callback`,
      SHOPIFY_SHOP_ORIGIN: shopify.shopOrigin,
      ...options.env
    }
  })
  await app.listen({ port, host: '127.0.0.1' })
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
  const admin = async (path: string, init: { method?: 'GET' | 'POST' | 'PUT', body?: unknown } = {}) => {
    const res = await request(`${base}/admin/workspaces/${workspace}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...auth, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    })
    return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
  }

  const minted = await request(`${base}/admin/workspaces/${workspace}/connect-links`, { method: 'POST', headers: auth })
  const { url } = await minted.body.json() as { url: string }
  const facebookDone = await browser('application/json').follow(url.replace('/connect?', '/facebook/login?'))
  if (facebookDone.status !== 200) throw new Error(`connecting Facebook ended with ${facebookDone.status}`)

  const client = browser()
  const link = /<input type="hidden" name="link" value="([^"]+)">/.exec((await client.get(url)).body)![1]!
  const grantScreen = await client.follow(`${base}/shopify/install?${new URLSearchParams({ link, shop: SHOP })}`)
  const ticket = /name="ticket" value="([^"]+)"/.exec(grantScreen.body)![1]!
  await client.follow(`${shopify.url}/${SHOP}/admin/oauth/grant?ticket=${ticket}`)
  for (let i = 0; i < 200; i++) {
    const shop = (await admin('/shop')).body as { lastSync?: { result: string | null } }
    if (shop.lastSync?.result === 'ok') break
    if (shop.lastSync?.result === 'failed') throw new Error('the catalog sync failed')
    await sleep(50)
  }
  return { app, base, facebook, shopify, admin }
}

/** Waits until `check` gives something other than undefined (at most `ms`), and gives it. */
export async function eventually<T> (check: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('gave up waiting')
    await sleep(25)
  }
}
