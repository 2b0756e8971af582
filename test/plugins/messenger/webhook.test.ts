import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import type { Db } from '../../../plugins/store/db.js'
import { APP_SECRET, build, recordingInboxWrites, testDb } from '../../helper.js'

const { db, written: stored } = recordingInboxWrites(await testDb(t))
const VERIFY_TOKEN = 'verify-token-0123456789'
const env = { MESSENGER_VERIFY_TOKEN: VERIFY_TOKEN }
const sign = (body: string | Buffer) => `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`
const post = (app: Awaited<ReturnType<typeof build>>, body: string | Buffer, signature: string | undefined) =>
  app.inject({ method: 'POST', url: '/messenger/webhook', payload: body, headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }) } })

const delivery = (text: string) => JSON.stringify({
  object: 'page',
  entry: [{ id: '104000000000001', time: 1795600000000, messaging: [{ sender: { id: '2400000000000001' }, recipient: { id: '104000000000001' }, timestamp: 1795600000000, message: { mid: 'm_1', text } }] }]
})

t.test('the webhook is off without MESSENGER_VERIFY_TOKEN', async t => {
  const app = await build(t, { db })
  t.equal((await app.inject('/messenger/webhook?hub.mode=subscribe')).statusCode, 404)
})

t.test('verification: the right token gets the challenge as text; a wrong one 403 first; a non-digit challenge 400', async t => {
  const app = await build(t, { db, env })
  const ok = await app.inject(`/messenger/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`)
  t.equal(ok.statusCode, 200)
  t.equal(ok.body, '1158201444')
  t.match(ok.headers['content-type'], 'text/plain')
  const wrong = await app.inject('/messenger/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=%3Cscript%3E')
  t.equal(wrong.statusCode, 403, 'a wrong token is refused before the challenge is looked at')
  t.notMatch(wrong.body, /script|nope/)
  t.equal((await app.inject(`/messenger/webhook?hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`)).statusCode, 403)
  const bad = await app.inject(`/messenger/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=abc%3Cb%3E`)
  t.equal(bad.statusCode, 400)
  t.notMatch(bad.body, /abc|<b>/, 'nothing reflected')
  t.equal((await app.inject(`/messenger/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=${'1'.repeat(65)}`)).statusCode, 400)
})

t.test('a short MESSENGER_VERIFY_TOKEN stops the boot', async t => {
  await t.rejects(build(t, { db, env: { MESSENGER_VERIFY_TOKEN: 'short' } }), /MESSENGER_VERIFY_TOKEN/)
})

t.test('signed deliveries are stored before the 200, emoji and accents escaped or raw', async t => {
  const app = await build(t, { db, env })
  const before = stored.length
  const escaped = delivery('caf\\u00e9 \\ud83d\\ude00').replace(/\\\\u/g, '\\u')
  const raw = delivery('café 😀 ñandú')
  for (const body of [escaped, raw]) {
    const res = await post(app, body, sign(Buffer.from(body)))
    t.equal(res.statusCode, 200)
    t.equal(res.body, 'EVENT_RECEIVED')
  }
  t.equal(stored.length, before + 2)
  t.same(stored.slice(-2), [{ source: 'messenger', body: escaped }, { source: 'messenger', body: raw }], 'the exact bytes, as text')
})

t.test('missing, malformed or wrong signatures are 401 and store nothing', async t => {
  const app = await build(t, { db, env })
  const body = delivery('hi')
  const before = stored.length
  for (const signature of [undefined, '', 'sha256=', `sha1=${'a'.repeat(40)}`, sign(`${body} `), sign(body).toUpperCase(), `${sign(body)}0`]) {
    t.equal((await post(app, body, signature)).statusCode, 401, String(signature).slice(0, 20))
  }
  t.equal(stored.length, before)
})

t.test('1,000+ tampered bodies or signatures: none accepted', async t => {
  const app = await build(t, { db, env })
  const body = delivery('order #42')
  const signature = sign(body)
  const before = stored.length
  let tried = 0
  let accepted = 0
  const tampering = [
    fc.nat({ max: body.length - 1 }), fc.nat({ max: signature.length - 8 }), fc.boolean(), fc.string({ minLength: 1, maxLength: 1 })
  ] as const
  await fc.assert(fc.asyncProperty(...tampering,
    async (bodyAt, signatureAt, tamperBody, replacement) => {
      const tamperedBody = tamperBody ? body.slice(0, bodyAt) + replacement + body.slice(bodyAt + 1) : body
      const tamperedSignature = tamperBody
        ? signature
        : signature.slice(0, 7 + signatureAt) + replacement + signature.slice(8 + signatureAt)
      if (tamperedBody === body && tamperedSignature === signature) return true
      tried++
      if ((await post(app, tamperedBody, tamperedSignature)).statusCode === 200) accepted++
      return true
    }), { numRuns: 1200 })
  t.comment(`fast-check: ${tried} tampered deliveries tried, ${accepted} accepted`)
  t.ok(tried >= 1000)
  t.equal(accepted, 0)
  t.equal(stored.length, before)
})

t.test('a signed body that is not JSON is 400; over 1 MiB is 413', async t => {
  const app = await build(t, { db, env })
  const notJson = '{"object": "page",'
  t.equal((await post(app, notJson, sign(notJson))).statusCode, 400)
  const big = JSON.stringify({ object: 'page', pad: 'x'.repeat(1024 * 1024) })
  t.equal((await post(app, big, sign(big))).statusCode, 413)
})

t.test('when the inbox cannot be written the answer is 503, so Meta delivers again', async t => {
  let down = false
  const flaky: Db = { ...db, query: (sql, params) => down ? Promise.reject(new Error('disk full')) : db.query(sql, params), transaction: db.transaction.bind(db) }
  const app = await build(t, { db: flaky, env })
  down = true
  const body = delivery('hello')
  const res = await post(app, body, sign(body))
  t.equal(res.statusCode, 503)
  t.notMatch(res.body, 'disk full')
})
