import t from 'tap'
import { request } from 'undici'
import { startFacebookEmulator } from '../tools/emulator/facebook.js'
import { APP_ID, build, freePort, logCapture, testDb, testEnv } from './helper.js'
import { browser } from './http-client.js'

const db = await testDb(t)

t.test('the whole flow with canary secrets: none reaches a log line or a response', async t => {
  const canary = {
    FACEBOOK_APP_SECRET: 'CANARY-app-secret-7f3a9c',
    ADMIN_API_TOKEN: 'CANARY-admin-token-0123456789abcdef0123',
    STATE_TOKEN_SECRET: 'CANARY-state-secret-0123456789abcdef012345',
    TOKEN_ENCRYPTION_KEY: 'c0ffee'.repeat(10) + 'c0ff'
  }
  const emulator = await startFacebookEmulator({ appId: APP_ID, appSecret: canary.FACEBOOK_APP_SECRET, autoApprove: true })
  t.teardown(emulator.close)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const logs = logCapture()
  const app = await build(t, {
    db,
    logStream: logs.stream,
    env: testEnv({ ...canary, LOG_LEVEL: 'trace', FACEBOOK_GRAPH_URL: emulator.url, FACEBOOK_DIALOG_URL: emulator.url, FACEBOOK_REDIRECT_URI: `${base}/facebook/callback` })
  })
  await app.listen({ port, host: '127.0.0.1' })

  const responses: string[] = []
  const minted = await request(`${base}/admin/workspaces/leak-test/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${canary.ADMIN_API_TOKEN}` } })
  const { url } = await minted.body.json() as { url: string }
  const link = new URL(url).searchParams.get('link')!
  const client = browser()
  const result = await client.follow(`${base}/facebook/login?link=${link}`)
  t.equal(result.status, 200, 'the flow completed')
  responses.push(result.body)
  const callbackUrl = client.responses.find(h => h.url.includes('/facebook/callback'))!.url
  const replay = await client.get(callbackUrl)
  t.equal(replay.status, 403, 'a replayed callback is refused')
  responses.push(replay.body, JSON.stringify(replay.headers))
  const json = await request(`${base}/admin/workspaces/leak-test/pages`, { headers: { authorization: `Bearer ${canary.ADMIN_API_TOKEN}` } })
  responses.push(await json.body.text())
  await request(`${base}/facebook/callback?code=AQcanary-code&state=${link}`).then(res => res.body.text()).then(body => responses.push(body))

  const callback = new URL(callbackUrl)
  const logSecrets = [
    ...Object.values(canary),
    ...emulator.issued,
    link,
    callback.searchParams.get('state')!,
    callback.searchParams.get('code')!,
    'AQcanary-code'
  ]
  const responseSecrets = [...Object.values(canary), ...emulator.issued]
  t.ok(logs.lines.length >= 5, `${logs.lines.length} log lines captured`)
  t.ok(emulator.issued.length >= 5, `${emulator.issued.length} codes and tokens issued by the emulator`)
  for (const secret of logSecrets) {
    const leaks = logs.lines.filter(line => line.includes(secret))
    t.same(leaks, [], `not in the log: ${secret.slice(0, 12)}...`)
  }
  for (const secret of responseSecrets) {
    t.notOk(responses.some(body => body.includes(secret)), `not in a response: ${secret.slice(0, 12)}...`)
  }
  const completed = logs.lines.map(line => JSON.parse(line)).filter(line => line.msg === 'request completed')
  t.ok(completed.some(line => line.path === '/facebook/callback' && line.statusCode === 303 && typeof line.requestId === 'string'),
    'each request is logged once with its path, status and request id')
  t.equal(completed.filter(line => line.path === '/facebook/login').length, 1, 'logged once, not twice')
})
