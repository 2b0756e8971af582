import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { checkSignedRedirect, queryHmacMatches, signedQueryMessage, webhookHmacMatches } from '../../../plugins/shopify/hmac.js'

const pairs = (query: string) => [...new URLSearchParams(query)]

t.test("Shopify's documented example verifies with the secret 'hush'", async t => {
  const query = 'code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173'
  t.equal(signedQueryMessage(pairs(query)), 'code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173')
  t.ok(queryHmacMatches(['hush'], pairs(query)))
  t.ok(queryHmacMatches(['new-secret', 'hush'], pairs(query)), 'the previous secret, during a rotation')
  t.notOk(queryHmacMatches(['hush!'], pairs(query)))
  t.notOk(queryHmacMatches(['hush'], pairs(`${query}&extra=1`)), 'an unknown extra parameter is signed too')
  t.notOk(queryHmacMatches(['hush'], pairs(`${query}&shop=evil.myshopify.com`)), 'a parameter given twice')
  t.notOk(queryHmacMatches(['hush'], pairs(query.replace('hmac=700e', 'hmac=700E'))), 'upper-case hex is not what Shopify sends')
})

t.test('the documented example as a redirect, with the clock set to its time: fresh within the TTL, then expired', async t => {
  const example = pairs('code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173')
  const at = 1337178173
  t.equal(checkSignedRedirect(['hush'], example, at + 10, 300), 'ok')
  t.equal(checkSignedRedirect(['hush'], example, at + 301, 300), 'expired', 'older than the state TTL')
  t.equal(checkSignedRedirect(['hush'], example, at - 31, 300), 'expired', 'from the future beyond 30 s of skew')
  t.equal(checkSignedRedirect(['hush'], example, at - 30, 300), 'ok', 'within the skew')
  t.equal(checkSignedRedirect(['not-hush'], example, at, 300), 'signature')
})

t.test('values are percent-encoded with %20 for spaces, names sorted, hmac and signature left out', async t => {
  t.equal(signedQueryMessage([['timestamp', '1'], ['host', 'a b+c/d'], ['signature', 'x'], ['hmac', 'y'], ['a', 'é&=']]),
    'a=%C3%A9%26%3D&host=a%20b%2Bc%2Fd&timestamp=1')
})

const sign = (secret: string, params: Array<[string, string]>) => [...params, ['hmac', createHmac('sha256', secret).update(signedQueryMessage(params)).digest('hex')]] as Array<[string, string]>

t.test('1,000+ mutated callback queries: none verifies', async t => {
  const secret = 'shopify-secret-0123456789'
  const base: Array<[string, string]> = [['code', 'abc123'], ['host', 'YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw'], ['shop', 'demo.myshopify.com'], ['state', 'st.ate'], ['timestamp', '1764000000']]
  const signed = sign(secret, base)
  t.ok(queryHmacMatches([secret], signed))
  let tried = 0
  let accepted = 0
  const mutation = [fc.nat({ max: signed.length - 1 }), fc.string({ minLength: 1, maxLength: 12 }), fc.boolean()] as const
  fc.assert(fc.property(...mutation, (index, text, onName) => {
    const mutated = signed.map(([name, value], i) =>
      i !== index ? [name, value] : onName ? [name + text, value] : [name, value + text]) as Array<[string, string]>
    tried++
    if (queryHmacMatches([secret], mutated)) accepted++
  }), { numRuns: 1200 })
  t.comment(`${tried} mutated queries, ${accepted} accepted`)
  t.equal(accepted, 0)
})

t.test('webhook bodies: the base64 digest of the exact bytes, either secret, nothing else', async t => {
  const body = Buffer.from('{"id":1,"title":"Café crème ☕"}')
  const digest = (secret: string, bytes = body) => createHmac('sha256', secret).update(bytes).digest('base64')
  t.ok(webhookHmacMatches(['s1'], body, digest('s1')))
  t.ok(webhookHmacMatches(['s2', 's1'], body, digest('s1')), 'the previous secret')
  t.notOk(webhookHmacMatches(['s1'], body, undefined))
  t.notOk(webhookHmacMatches(['s1'], body, digest('s1').replace('=', '')), 'unpadded')
  t.notOk(webhookHmacMatches(['s1'], body, Buffer.from(createHmac('sha256', 's1').update(body).digest('hex')).toString()), 'hex')
  let tried = 0
  let accepted = 0
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.boolean(), (noise, at, inSignature) => {
    tried++
    const good = digest('s1')
    if (inSignature) {
      const i = at % good.length
      const mutated = good.slice(0, i) + String.fromCharCode(33 + (noise[0]! % 94)) + good.slice(i + 1)
      if (mutated !== good && webhookHmacMatches(['s1'], body, mutated)) accepted++
    } else {
      const mutated = Buffer.concat([body.subarray(0, at % body.length), Buffer.from(noise), body.subarray(at % body.length)])
      if (webhookHmacMatches(['s1'], mutated, good)) accepted++
    }
  }), { numRuns: 1200 })
  t.comment(`${tried} mutated webhook bodies or signatures, ${accepted} accepted`)
  t.equal(accepted, 0)
})
