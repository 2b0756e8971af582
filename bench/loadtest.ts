import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { request } from 'undici'
import { startFacebookEmulator } from '../tools/emulator/facebook.js'

/** `npm run loadtest`: 100 connections for LOADTEST_SECONDS (60) over login, invalid-state callbacks and /healthz. */
const SECONDS = Number(process.env.LOADTEST_SECONDS ?? 60)
const ADMIN = 'loadtest-admin-token-0123456789abcdef0123'
const EXPECTED: Record<string, number> = { '/facebook/login': 302, '/facebook/callback': 400, '/healthz': 200 }

const server = createServer()
await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
const port = (server.address() as { port: number }).port
await new Promise(resolve => server.close(resolve))
const emulator = await startFacebookEmulator({ appId: '123456789012345', appSecret: 'loadtest-secret', autoApprove: true })
const dataDir = await mkdtemp(join(tmpdir(), 'msb-loadtest-'))
const base = `http://127.0.0.1:${port}`
const child = spawn(process.execPath, ['--max-old-space-size=96', 'dist/src/server.js'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    PATH: process.env.PATH ?? '',
    FACEBOOK_APP_ID: '123456789012345',
    FACEBOOK_APP_SECRET: 'loadtest-secret',
    FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
    FACEBOOK_GRAPH_URL: emulator.url,
    FACEBOOK_DIALOG_URL: emulator.url,
    STATE_TOKEN_SECRET: 'loadtest-state-secret-0123456789abcdef0123',
    TOKEN_ENCRYPTION_KEY: 'ffeeddccbbaa99887766554433221100'.repeat(2),
    ADMIN_API_TOKEN: ADMIN,
    RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    ...(process.env.TEST_DATABASE_URL ? { DATABASE_URL: process.env.TEST_DATABASE_URL } : {})
  }
})
const rss = async () => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024
for (let attempt = 0; !(await request(`${base}/readyz`).then(async res => { await res.body.dump(); return res.statusCode === 200 }, () => false)); attempt++) {
  if (attempt > 600) throw new Error('the service did not start')
  await sleep(100)
}
const minted = await request(`${base}/admin/workspaces/loadtest/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })
const link = new URL((await minted.body.json() as { url: string }).url).searchParams.get('link')!
const rssStart = await rss()

const result = await autocannon({
  url: base,
  connections: 100,
  duration: SECONDS,
  timeout: 10,
  requests: [
    { method: 'GET', path: `/facebook/login?link=${link}` },
    { method: 'GET', path: `/facebook/callback?code=AQnot-a-code&state=${link}` },
    { method: 'GET', path: '/healthz' }
  ]
})
const rssEnd = await rss()
const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]))
const unexpected = Object.keys(statuses).filter(code => !Object.values(EXPECTED).includes(Number(code)))
process.stdout.write([
  `# loadtest ${new Date().toISOString()}: ${SECONDS} s, 100 connections, login / invalid-state callback / healthz, on ${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`,
  `requests=${result.requests.total} req/s=${result.requests.average} p99=${result.latency.p99} ms`,
  `errors=${result.errors} timeouts=${result.timeouts} statuses=${JSON.stringify(statuses)} unexpected=${JSON.stringify(unexpected)}`,
  `rss start=${rssStart.toFixed(0)} MB end=${rssEnd.toFixed(0)} MB`
].join('\n') + '\n')

child.kill('SIGTERM')
await new Promise(resolve => child.once('exit', resolve))
await emulator.close()
await rm(dataDir, { recursive: true, force: true })
process.exitCode = result.errors === 0 && result.timeouts === 0 && unexpected.length === 0 ? 0 : 1
