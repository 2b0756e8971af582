import { randomBytes } from 'node:crypto'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import { loadConfig } from '../plugins/core/config.js'
import { buildServer, listenProblem } from '../src/app.js'
import { startFacebookEmulator } from './emulator/facebook.js'
import { startOpenAiEmulator } from './emulator/openai.js'
import { startShopifyEmulator } from './emulator/shopify.js'

/**
 * The service on its embedded store against the bundled Facebook emulator, on 127.0.0.1 only.
 * Generated secrets live under DATA_DIR (never in .env) so tokens stored by one run open in the next.
 */
const dataDir = process.env.DATA_DIR ?? './data/demo'
const port = Number(process.env.PORT ?? 5000)
const secretsFile = join(dataDir, 'demo-secrets.json')

async function demoSecrets (): Promise<Record<string, string>> {
  const fresh = {
    FACEBOOK_APP_ID: `1${randomBytes(8).readBigUInt64BE().toString().padStart(15, '0').slice(0, 15)}`,
    FACEBOOK_APP_SECRET: randomBytes(16).toString('hex'),
    STATE_TOKEN_SECRET: randomBytes(32).toString('base64url'),
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    ADMIN_API_TOKEN: randomBytes(24).toString('base64url'),
    MESSENGER_VERIFY_TOKEN: randomBytes(16).toString('base64url'),
    SHOPIFY_API_KEY: randomBytes(16).toString('hex'),
    SHOPIFY_API_SECRET: randomBytes(16).toString('hex')
  }
  const stored = await readFile(secretsFile, 'utf8').then(text => JSON.parse(text) as Record<string, string>, () => ({}))
  // Kept secrets win, so stored tokens still open; a secret a newer version added is generated once.
  const secrets = { ...fresh, ...stored }
  if (Object.keys(stored).length !== Object.keys(secrets).length) {
    await mkdir(dataDir, { recursive: true })
    await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600 })
  }
  return secrets
}

const secrets = await demoSecrets()
const base = `http://127.0.0.1:${port}`
const emulator = await startFacebookEmulator({
  appId: secrets.FACEBOOK_APP_ID, appSecret: secrets.FACEBOOK_APP_SECRET, host: '127.0.0.1', serviceUrl: base
})
// The model: a real local server when LLM_BASE_URL is given (e.g. Ollama), else the bundled scripted one;
// DEMO_LLM=off runs the deterministic bot alone.
const scriptedModel = process.env.DEMO_LLM === 'off' || process.env.LLM_BASE_URL !== undefined ? undefined : await startOpenAiEmulator()
const llm = process.env.DEMO_LLM === 'off'
  ? {}
  : scriptedModel === undefined
    ? { LLM_BASE_URL: process.env.LLM_BASE_URL!, LLM_MODEL: process.env.LLM_MODEL ?? 'llama3.1', LLM_API_KEY: process.env.LLM_API_KEY ?? '' }
    : { LLM_BASE_URL: scriptedModel.url, LLM_MODEL: 'scripted-demo-model' }
const shopify = await startShopifyEmulator({ apiKey: secrets.SHOPIFY_API_KEY!, apiSecret: secrets.SHOPIFY_API_SECRET!, host: '127.0.0.1', products: 250 })
const config = loadConfig({
  ...secrets,
  SHOPIFY_REDIRECT_URI: `${base}/shopify/callback`,
  SHOPIFY_SHOP_ORIGIN: shopify.shopOrigin,
  FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
  FACEBOOK_GRAPH_URL: emulator.url,
  FACEBOOK_DIALOG_URL: emulator.url,
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  PORT: String(port),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  ...llm
})
const server = await buildServer(config)
closeWithGrace({ delay: 5000 }, async () => {
  await server.close()
  await emulator.close()
  await shopify.close()
  await scriptedModel?.close()
})
try {
  await server.listen({ port, host: '127.0.0.1' })
} catch (err) {
  process.stderr.write(`The demo cannot start: ${listenProblem(err as Error, '127.0.0.1', port)} (e.g. PORT=5050 npm run demo).\n`)
  await Promise.all([server.close(), emulator.close(), shopify.close(), scriptedModel?.close()])
  process.exit(1)
}

const minted = await server.inject({ method: 'POST', url: '/admin/workspaces/demo/connect-links', headers: { authorization: `Bearer ${secrets.ADMIN_API_TOKEN}` } })
const { url } = minted.json() as { url: string }
process.stdout.write([
  '',
  'Demo ready: the service on its embedded store, Facebook and Shopify played by the bundled emulators.',
  `  Open this connect link:  ${url}`,
  `  Admin API:               curl -H 'Authorization: Bearer ${secrets.ADMIN_API_TOKEN}' ${base}/admin/workspaces/demo/pages`,
  `  Facebook emulator:       ${emulator.url}`,
  `  Language model:          ${scriptedModel !== undefined ? `the bundled scripted model (${scriptedModel.url})` : 'LLM_BASE_URL' in llm ? `${llm.LLM_MODEL} at ${llm.LLM_BASE_URL}` : 'none (DEMO_LLM=off): the deterministic bot'}`,
  `  Be a customer in the emulator's Messenger (after connecting Facebook and the shop):  ${emulator.url}/emulator/messenger`,
  `  ... or write from a terminal:  curl '${emulator.url}/emulator/send-message?text=wool%20scarf%20under%2080'`,
  `  ... and the conversation:  curl -H 'Authorization: Bearer ${secrets.ADMIN_API_TOKEN}' ${base}/admin/workspaces/demo/pages/104000000000001/conversations`,
  '  The owner\'s console (conversations, replying as a person, campaigns, results): "Open the console" on the connect page.',
  `  The user removes the app (Meta's signed deauthorize callback):  curl ${emulator.url}/emulator/deauthorize`,
  '  Then "Connect your Shopify store" on the connect page with any name, e.g. corner-store.myshopify.com (Shopify emulator:',
  `  ${shopify.url}), and search its 250 products:  curl -H 'Authorization: Bearer ${secrets.ADMIN_API_TOKEN}' '${base}/admin/workspaces/demo/products?q=wool+scarf'`,
  'Ctrl-C stops it.',
  ''
].join('\n') + '\n')
