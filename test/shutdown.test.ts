import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { startFacebookEmulator } from './emulator/facebook.js'
import { browser } from './http-client.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, freePort, testEnv } from './helper.js'

async function waitUntilReady (base: string) {
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      if ((await request(`${base}/readyz`)).statusCode === 200) return
    } catch {}
    await sleep(100)
  }
  throw new Error('the service did not become ready')
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: the callback in flight completes, then the process exits 0`, async t => {
    const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true })
    t.teardown(emulator.close)
    const dataDir = await mkdtemp(join(tmpdir(), 'msb-shutdown-'))
    t.teardown(() => rm(dataDir, { recursive: true, force: true }))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const env = testEnv({
      FACEBOOK_GRAPH_URL: emulator.url,
      FACEBOOK_DIALOG_URL: emulator.url,
      FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn'
    })
    const child = spawn(process.execPath, ['dist/src/server.js'], { env: { ...env, PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'inherit', 'inherit'] })
    t.teardown(() => { child.kill('SIGKILL') })
    const exited = once(child, 'exit')
    await waitUntilReady(base)

    const minted = await request(`${base}/admin/workspaces/drain/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const { url } = await minted.body.json() as { url: string }
    const client = browser('application/json')
    const login = await client.get(url.replace('/connect?', '/facebook/login?'))
    const dialog = await client.get(login.location!)
    emulator.setDelay(400)
    const inFlight = client.get(dialog.location!)
    await sleep(200)
    child.kill(signal)

    const callback = await inFlight
    t.equal(callback.status, 200, 'the in-flight callback got its answer')
    t.equal(JSON.parse(callback.body).pages.length, 5)
    const [code] = await exited
    t.equal(code, 0, 'exit code 0')
    await t.rejects(request(`${base}/healthz`), 'no longer listening')
  })
}
