import { spawn } from 'node:child_process'
import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request, Agent } from 'undici'
import { startFacebookEmulator } from './dist/test/emulator/facebook.js'
import { postDeliveries, signedDeliveries, streamDeliveries } from './dist/bench/webhook.js'
import { browser } from './dist/test/http-client.js'

const APP_ID = '123456789012345', APP_SECRET = 'bench-app-secret-0123456789abcdef', ADMIN = 'bench-admin-token-0123456789abcdef0123456789'
const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true })
const dataDir = await mkdtemp(join(tmpdir(), 'msb-exp-'))
const port = 5600 + Math.floor(Math.random() * 300)
const base = `http://127.0.0.1:${port}`
const child = spawn(process.execPath, ['--max-old-space-size=96', '--import', '/tmp/exp/elmon.mjs', ...(process.env.EXP_FLAGS ? process.env.EXP_FLAGS.split(' ') : []), 'dist/src/server.js'], { env: { PATH: process.env.PATH, FACEBOOK_APP_ID: APP_ID, FACEBOOK_APP_SECRET: APP_SECRET, FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`, FACEBOOK_GRAPH_URL: emulator.url, FACEBOOK_DIALOG_URL: emulator.url, STATE_TOKEN_SECRET: 'bench-state-secret-0123456789abcdef0123456789', TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32), ADMIN_API_TOKEN: ADMIN, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, MESSENGER_VERIFY_TOKEN: 'bench-verify-token-0123456789' }, stdio: ['ignore', 'ignore', 'inherit'] })
for (;;) { const ok = await request(`${base}/readyz`).then(r => r.body.dump().then(() => r.statusCode === 200), () => false); if (ok) break; await sleep(100) }
const minted = await request(`${base}/admin/workspaces/bench/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })
const { url } = await minted.body.json()
const client = browser('application/json')
const login = await client.get(url.replace('/connect?', '/facebook/login?'))
const dialog = await client.get(login.location)
const cb = await client.get(dialog.location)
if (cb.status !== 200) throw new Error('connect ' + cb.status)
const pageId = emulator.pages.find(p => p.tasks.includes('MESSAGING')).id
const next = signedDeliveries(APP_SECRET, pageId, 3_000_000_000)
const t0 = Date.now()
for (let i = 0; i < Number(process.env.EXP_WARM ?? 3); i++) { const r = await postDeliveries(`${base}/messenger/webhook`, next, 5); console.error(`unbounded ${Math.round(r.perSecond)}/s at ${(Date.now() - t0) / 1000}s`) }
for (let i = 0; i < Number(process.env.EXP_STEADY ?? 1); i++) {
  console.error(`steady starts at ${(Date.now() - t0) / 1000}s`)
  const s = await streamDeliveries(`${base}/messenger/webhook`, next, 30, 1000)
  const wal = await readdir(join(dataDir, 'pglite', 'pg_wal'))
  console.log(JSON.stringify({ p50: s.p50, p99: s.p99, max: s.max, errors: s.errors, wal: wal.length }))
}
child.kill('SIGTERM'); await emulator.close(); process.exit(0)
