import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { startFacebookEmulator } from '../tools/emulator/facebook.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, freePort, seededDataDir } from './helper.js'
import { browser } from './http-client.js'
import { spawnService } from './service-process.js'

const dataDir = await seededDataDir(t)
const TOKEN_ENCRYPTION_KEY = '0123456789abcdef'.repeat(4)

/** The built server in its own process, on the file's DATA_DIR, against the emulator, with a callback ready to send. */
async function serviceWithCallbackInFlight (t: Test, env: Record<string, string> = {}) {
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true })
  t.teardown(emulator.close)
  const port = await freePort()
  const { base, child, exited } = await spawnService(t, {
    FACEBOOK_GRAPH_URL: emulator.url,
    FACEBOOK_DIALOG_URL: emulator.url,
    FACEBOOK_REDIRECT_URI: `http://127.0.0.1:${port}/facebook/callback`,
    DATA_DIR: dataDir,
    TOKEN_ENCRYPTION_KEY,
    PORT: String(port),
    ...env
  })

  const minted = await request(`${base}/admin/workspaces/drain/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const { url } = await minted.body.json() as { url: string }
  const client = browser('application/json')
  const login = await client.get(url.replace('/connect?', '/facebook/login?'))
  const dialog = await client.get(login.location!)
  return { base, child, exited, emulator, sendCallback: () => client.get(dialog.location!) }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: the callback in flight completes, then the process exits 0`, async t => {
    const { base, child, exited, emulator, sendCallback } = await serviceWithCallbackInFlight(t)
    emulator.setDelay(400)
    const inFlight = sendCallback()
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

t.test('SHUTDOWN_TIMEOUT_MS forces the exit when a request outlasts it', async t => {
  const { child, exited, emulator, sendCallback } = await serviceWithCallbackInFlight(t, { SHUTDOWN_TIMEOUT_MS: '300', GRAPH_TIMEOUT_MS: '20000', CALLBACK_TIMEOUT_MS: '20000' })
  emulator.setDelay(10_000)
  sendCallback().catch(() => {})
  await sleep(200)
  const signalled = Date.now()
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 1, 'a forced exit is not a clean one')
  t.ok(Date.now() - signalled < 5000, 'well before the slow request would have finished')
})

t.test('a second signal forces the exit', async t => {
  const { child, exited, emulator, sendCallback } = await serviceWithCallbackInFlight(t, { GRAPH_TIMEOUT_MS: '20000', CALLBACK_TIMEOUT_MS: '20000' })
  emulator.setDelay(10_000)
  sendCallback().catch(() => {})
  await sleep(200)
  child.kill('SIGTERM')
  await sleep(200)
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 1)
})
