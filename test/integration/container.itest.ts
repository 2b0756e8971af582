import { execFile } from 'node:child_process'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { request } from 'undici'
import { startFacebookEmulator } from '../../tools/emulator/facebook.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, freePort, testEnv } from '../helper.js'
import { browser } from '../http-client.js'

/**
 * The Dockerfile, built and run for real with podman (../shared/container), read-only, as its user, against
 * the Facebook emulator; then stopped as `docker stop -t 10` would while a callback is in flight.
 */
const exec = promisify(execFile)
const PODMAN = join(process.cwd(), '../shared/container/podman')
const IMAGE = 'localhost/msgr-bot:test'
const podman = async (...args: string[]) => (await exec(PODMAN, args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim()

const name = `msgr-bot-test-${process.pid}`
const volume = `${name}-data`

t.test('the image builds, runs read-only as a non-root user, serves the flow and drains on stop', async t => {
  await podman('build', '--pull=never', '--network=host', '-t', IMAGE, '.')
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true })
  t.teardown(emulator.close)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const dir = await mkdtemp(join(tmpdir(), 'msb-container-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const envFile = join(dir, 'service.env')
  const env = testEnv({ FACEBOOK_GRAPH_URL: emulator.url, FACEBOOK_DIALOG_URL: emulator.url, FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`, PORT: String(port), LOG_LEVEL: 'info' })
  delete env.DATA_DIR
  await writeFile(envFile, Object.entries(env).map(([key, value]) => `${key}=${value}`).join('\n') + '\n')

  await podman('run', '-d', '--network=host', '--read-only', '--tmpfs', '/tmp', '-v', `${volume}:/data`, '--env-file', envFile, '--name', name, IMAGE)
  t.teardown(async () => {
    await podman('rm', '-f', name).catch(() => {})
    await podman('volume', 'rm', '-f', volume).catch(() => {})
  })
  for (let attempt = 0; ; attempt++) {
    const ready = await request(`${base}/readyz`).then(res => res.statusCode, () => 0)
    if (ready === 200) break
    if (attempt > 600) throw new Error('the container did not become ready')
    await sleep(200)
  }

  t.not(await podman('exec', name, 'id', '-u'), '0', 'the service does not run as root')
  t.equal(await podman('exec', name, 'sh', '-c', 'touch /app/x 2>/dev/null && echo writable || echo read-only'), 'read-only', 'the root filesystem is read-only')
  await t.resolves(podman('healthcheck', 'run', name), 'the HEALTHCHECK passes without curl')
  t.equal(await podman('exec', name, 'sh', '-c', 'ls dist; find / -xdev -path /proc -prune -o -name "*emulator*" -print 2>/dev/null | grep -v node_modules || true'),
    'plugins\nsrc', 'the image holds the service (dist/src, dist/plugins) and no emulator, demo, bench or test')

  const mint = async () => {
    const res = await request(`${base}/admin/workspaces/container/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    return (await res.body.json() as { url: string }).url
  }
  const client = browser()
  const result = await client.follow(await mint())
  t.equal(result.status, 200)
  const login = /href="([^"]+)">Connect with Facebook/.exec(result.body)![1]!.replaceAll('&amp;', '&')
  const connected = await client.follow(new URL(login, base).toString())
  t.equal(connected.status, 200)
  t.match(connected.body, 'Your Facebook Pages are connected')

  const json = browser('application/json')
  const dialog = await json.get((await json.get((await mint()).replace('/connect?', '/facebook/login?'))).location!)
  emulator.setDelay(700)
  const inFlight = json.get(dialog.location!)
  await sleep(300)
  const stopping = Date.now()
  await podman('stop', '-t', '10', name)
  const stoppedAfter = Date.now() - stopping
  const callback = await inFlight
  t.equal(callback.status, 200, 'the callback in flight completed')
  t.equal(JSON.parse(callback.body).workspace, 'container')
  t.equal(await podman('inspect', '-f', '{{.State.ExitCode}}', name), '0', 'the container exited 0')
  t.ok(stoppedAfter < 10_000, `stopped in ${stoppedAfter} ms, before docker stop's SIGKILL`)
})
