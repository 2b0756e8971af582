import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { startFacebookEmulator } from '../../tools/emulator/facebook.js'
import { ADMIN_TOKEN, APP_ID, APP_SECRET, freePort, POSTGRES_SKIP, testPostgresUrl } from '../helper.js'
import { browser } from '../http-client.js'
import { spawnService } from '../service-process.js'

/** deploy/nginx.conf with loopback addresses, plain HTTP and a throwaway prefix: everything else as shipped. */
export async function nginxConfig (dir: string, port: number, replicas: number[]): Promise<string> {
  const template = await readFile('deploy/nginx.conf', 'utf8')
  const config = template
    .replace(/^pid .*;$/m, `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;${process.getuid?.() === 0 ? '\nuser root;' : ''}`)
    .replace(/access_log \/var\/log\/nginx\/[^ ]+/g, `access_log ${dir}/access.log`)
    .replace(/(upstream msgr_bot \{\n)(\s*server .*\n)+/, (_, head: string) => head + replicas.map(p => `    server 127.0.0.1:${p} max_fails=3 fail_timeout=10s;\n`).join(''))
    .replace(/\n {2}server \{\n {4}listen 80;[\s\S]*?\n {2}\}\n/, '\n')
    .replace('listen 443 ssl;', `listen 127.0.0.1:${port};`)
    .replace(/^\s*ssl_.*\n/gm, '')
    .replace('http {', `http {\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;`)
  if (!config.includes(`listen 127.0.0.1:${port}`) || config.includes('10.0.0.1')) throw new Error('deploy/nginx.conf no longer has the expected shape')
  return config
}

const databaseUrl = await testPostgresUrl(t)

t.test('through real nginx: two replicas on one PostgreSQL, login and callback on different replicas', { skip: databaseUrl === undefined ? POSTGRES_SKIP : false }, async t => {
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: APP_SECRET, autoApprove: true })
  t.teardown(emulator.close)
  const [front, portA, portB] = [await freePort(), await freePort(), await freePort()]
  const base = `http://127.0.0.1:${front}`
  const shared = {
    FACEBOOK_GRAPH_URL: emulator.url,
    FACEBOOK_DIALOG_URL: emulator.url,
    FACEBOOK_REDIRECT_URI: `${base}/facebook/callback`,
    DATABASE_URL: databaseUrl!,
    TRUST_PROXY: '127.0.0.1',
    RATE_LIMIT_MAX: '8',
    LOG_LEVEL: 'info'
  }
  // Started together: the migration advisory lock lets one replica migrate while the other waits.
  const [a, b] = await Promise.all([portA, portB].map(port => spawnService(t, { ...shared, PORT: String(port) })))

  const dir = await mkdtemp(join(tmpdir(), 'msb-nginx-'))
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'nginx.conf'), await nginxConfig(dir, front, [portA, portB]))
  const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' })
  t.teardown(() => { nginx.kill('SIGQUIT') })
  for (let attempt = 0; !(await request(`${base}/healthz`).then(res => res.statusCode === 200, () => false)); attempt++) {
    if (attempt > 100) throw new Error('nginx did not start')
    await sleep(100)
  }

  const minted = await request(`${base}/admin/workspaces/behind-nginx/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const { url } = await minted.body.json() as { url: string }
  t.match(url, `${base}/connect?link=`)

  const servedBy = (path: string, requestId: string) =>
    [a, b].findIndex(replica => replica.lines.some(line => line.includes(`"requestId":"${requestId}"`) && line.includes(`"path":"${path}"`)))
  const crossings: boolean[] = []
  for (let flow = 0; flow < 2; flow++) {
    const client = browser()
    const result = await client.follow(url.replace('/connect?', '/facebook/login?'))
    t.equal(result.status, 200, `flow ${flow} ends on the connect page`)
    t.match(result.body, 'Your Facebook Pages are connected')
    const ids = client.responses.filter(r => r.url.startsWith(base)).map(r => ({ path: new URL(r.url).pathname, id: r.headers['x-request-id'] as string }))
    const login = ids.find(r => r.path === '/facebook/login')!
    const callback = ids.find(r => r.path === '/facebook/callback')!
    t.match(login.id, /^[0-9a-f]{32}$/, "the request id is nginx's")
    crossings.push(servedBy('/facebook/login', login.id) !== servedBy('/facebook/callback', callback.id) &&
      servedBy('/facebook/callback', callback.id) !== -1)
  }
  t.ok(crossings.some(Boolean), `login and callback landed on different replicas (${crossings.join(', ')})`)

  const spoofed = await request(`${base}/healthz`, { headers: { 'x-request-id': 'client-chosen', 'x-forwarded-for': '6.6.6.6' } })
  t.match(spoofed.headers['x-request-id'], /^[0-9a-f]{32}$/, 'a client cannot choose its request id through nginx')
  await spoofed.body.dump()

  const pages = await request(`${base}/admin/workspaces/behind-nginx/pages`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal((await pages.body.json() as { pages: unknown[] }).pages.length, 5, 'both replicas see the same store')

  const statuses: number[] = []
  for (let i = 0; i < 40 && !statuses.includes(429); i++) {
    statuses.push((await request(`${base}/facebook/login`, { headers: { 'x-forwarded-for': `203.0.113.${i}` } }).then(async res => { await res.body.dump(); return res.statusCode })))
  }
  t.ok(statuses.includes(429), `a client over the limit gets 429 through nginx, spoofed X-Forwarded-For or not (after ${statuses.length} requests)`)
  t.ok(statuses.length <= 2 * 8 + 1, 'within the two replicas\' limits: nginx overwrote the spoofed addresses')
})
