import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { decodeClaims, encodeClaims } from '../../../plugins/tokens/state-token-codec.js'
import { type Claims, issueToken as issueWith, rememberSigned, signingKeys, StateTokenError, verifyToken as verifyWith } from '../../../plugins/tokens/state-token.js'

const SECRET = 'a'.repeat(32)
const OTHER = 'b'.repeat(32)
const NOW = 1_800_000_000
type AfterKeys<F extends (...args: never[]) => unknown> = Parameters<F> extends [unknown, ...infer R] ? R : never
const issueToken = (secrets: string[], ...rest: AfterKeys<typeof issueWith>) => issueWith(signingKeys(secrets), ...rest)
const verifyToken = (secrets: string[], ...rest: AfterKeys<typeof verifyWith>) => verifyWith(signingKeys(secrets), ...rest)
const binding = 'x'.repeat(42) + 'A'

const refusal = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    if (err instanceof StateTokenError) return err.reason
    throw err
  }
  return 'accepted'
}

t.test('a token verifies for its kind and carries its claims', async t => {
  const token = issueToken([SECRET], 'facebook', 'acme', { ttlSeconds: 300, binding, linkExp: NOW + 900 }, NOW)
  const claims = verifyToken([SECRET], token, 'facebook', NOW + 10)
  t.match(claims, { kind: 'facebook', workspace: 'acme', iat: NOW, exp: NOW + 300, binding, linkExp: NOW + 900 })
  t.match(claims.nonce, /^[A-Za-z0-9_-]{22}$/, 'a 128-bit nonce')
  t.not(issueToken([SECRET], 'facebook', 'acme', { ttlSeconds: 300 }, NOW), issueToken([SECRET], 'facebook', 'acme', { ttlSeconds: 300 }, NOW),
    'two tokens issued in the same second differ')
})

t.test('expiresAt sets an absolute expiry', async t => {
  const token = issueToken([SECRET], 'connect', 'acme', { expiresAt: NOW + 42 }, NOW)
  t.equal(verifyToken([SECRET], token, 'connect', NOW).exp, NOW + 42)
})

t.test('expired tokens and tokens from the future beyond 30 s are refused', async t => {
  const token = issueToken([SECRET], 'connect', 'acme', { ttlSeconds: 60 }, NOW)
  t.equal(refusal(() => verifyToken([SECRET], token, 'connect', NOW + 59)), 'accepted')
  t.equal(refusal(() => verifyToken([SECRET], token, 'connect', NOW + 60)), 'expired')
  t.equal(refusal(() => verifyToken([SECRET], token, 'connect', NOW - 30)), 'accepted', '30 s of clock skew is tolerated')
  t.equal(refusal(() => verifyToken([SECRET], token, 'connect', NOW - 31)), 'future')
})

t.test('a token of one kind is refused as another', async t => {
  const connect = issueToken([SECRET], 'connect', 'acme', { ttlSeconds: 60 }, NOW)
  const facebook = issueToken([SECRET], 'facebook', 'acme', { ttlSeconds: 60 }, NOW)
  t.equal(refusal(() => verifyToken([SECRET], connect, 'facebook', NOW)), 'kind')
  t.equal(refusal(() => verifyToken([SECRET], facebook, 'connect', NOW)), 'kind')
  t.equal(refusal(() => verifyToken([SECRET], facebook, 'shopify', NOW)), 'kind')
})

t.test('key rotation: signed with the first secret, verified with any', async t => {
  const old = issueToken([OTHER], 'connect', 'acme', { ttlSeconds: 60 }, NOW)
  const rotated = issueToken([SECRET, OTHER], 'connect', 'acme', { ttlSeconds: 60 }, NOW)
  t.equal(refusal(() => verifyToken([SECRET, OTHER], old, 'connect', NOW)), 'accepted', 'a token of the previous secret still verifies')
  t.equal(refusal(() => verifyToken([SECRET], rotated, 'connect', NOW)), 'accepted', 'new tokens use the first secret')
  t.equal(refusal(() => verifyToken([SECRET], old, 'connect', NOW)), 'signature', 'a retired secret no longer verifies')
})

t.test('every single-character tamper is refused', async t => {
  const token = issueToken([SECRET], 'facebook', 'acme', { ttlSeconds: 60, binding }, NOW)
  let refused = 0
  for (let i = 0; i < token.length; i++) {
    for (const replacement of ['A', '_', '.', '=', '']) {
      const tampered = token.slice(0, i) + replacement + token.slice(i + 1)
      if (tampered === token) continue
      t.not(refusal(() => verifyToken([SECRET], tampered, 'facebook', NOW)), 'accepted')
      refused++
    }
  }
  t.ok(refused > token.length * 4, `${refused} tampered tokens refused`)
})

t.test('a payload with other claims is refused without the secret', async t => {
  const token = issueToken([SECRET], 'connect', 'acme', { ttlSeconds: 60 }, NOW)
  const [payload, signature] = token.split('.') as [string, string]
  const claims = decodeClaims(Buffer.from(payload, 'base64url'))!
  const forged = encodeClaims({ ...claims, workspace: 'victim' }).toString('base64url')
  t.equal(refusal(() => verifyToken([SECRET], `${forged}.${signature}`, 'connect', NOW)), 'signature')
})

t.test('malformed input is refused before any crypto', async t => {
  for (const input of [undefined, 42, '', '.', 'abc', 'a.b.c', `${'a'.repeat(2000)}.${'b'.repeat(43)}`, 'x'.repeat(5000)]) {
    t.equal(refusal(() => verifyToken([SECRET], input, 'connect', NOW)), 'malformed', `refuses ${String(input).slice(0, 20)}`)
  }
})

t.test('validly signed but malformed payloads are refused', async t => {
  const sign = (bytes: Buffer) => {
    const payload = bytes.toString('base64url')
    return `${payload}.${createHmac('sha256', SECRET).update('state-token/v1.').update(payload).digest('base64url')}`
  }
  const good = encodeClaims({ kind: 'connect', workspace: 'acme', iat: NOW, exp: NOW + 60, nonce: 'n'.repeat(22) })
  const edit = (at: number, value: number) => { const copy = Buffer.from(good); copy[at] = value; return copy }
  t.equal(refusal(() => verifyToken([SECRET], sign(good), 'connect', NOW)), 'accepted', 'the forging helper is right')
  t.equal(refusal(() => verifyToken([SECRET], sign(edit(0, 2)), 'connect', NOW)), 'malformed', 'unknown version')
  t.equal(refusal(() => verifyToken([SECRET], sign(edit(1, 4)), 'connect', NOW)), 'malformed', 'unknown kind')
  t.equal(refusal(() => verifyToken([SECRET], sign(edit(26, 8)), 'connect', NOW)), 'malformed', 'unknown flag')
  t.equal(refusal(() => verifyToken([SECRET], sign(edit(26, 4)), 'connect', NOW)), 'malformed', 'a shop flag without a valid shop')
  t.equal(refusal(() => verifyToken([SECRET], sign(edit(26, 1)), 'connect', NOW)), 'malformed', 'a binding flag without its bytes')
  t.equal(refusal(() => verifyToken([SECRET], sign(edit(27, 'A'.charCodeAt(0))), 'connect', NOW)), 'malformed', 'bad workspace')
  t.equal(refusal(() => verifyToken([SECRET], sign(good.subarray(0, 27)), 'connect', NOW)), 'malformed', 'no workspace')
})

t.test('the payload codec round-trips and refuses what it cannot encode', async t => {
  const claims = { kind: 'shopify' as const, workspace: 'a-b-9', iat: 1, exp: 0xffff_ffff, nonce: 'AAAAAAAAAAAAAAAAAAAAAA', binding: 'b'.repeat(42) + 'A', linkExp: 7 }
  t.same(decodeClaims(encodeClaims(claims)), claims)
  t.throws(() => encodeClaims({ ...claims, workspace: 'Bad' }))
  t.throws(() => encodeClaims({ ...claims, exp: 2 ** 32 }))
  t.throws(() => encodeClaims({ ...claims, binding: 'short' }))
  t.throws(() => encodeClaims({ ...claims, binding: 'b'.repeat(42) + '!' }), 'a binding that decodes short')
  t.throws(() => encodeClaims({ ...claims, nonce: 'A'.repeat(23) }), 'a nonce of another length')
  t.throws(() => encodeClaims({ ...claims, nonce: 'A'.repeat(21) + '*' }), 'a nonce that decodes short')
  // The buffer comes from a pool that is not zeroed: stale bytes must not reach a token.
  const payloads = Array.from({ length: 50 }, (_, i) => encodeClaims({ ...claims, workspace: 'w'.repeat(1 + i) }))
  t.ok(payloads.every((payload, i) => payload.equals(encodeClaims({ ...claims, workspace: 'w'.repeat(1 + i) }))), 'the same claims encode to the same bytes')
})

t.test('a Shopify state carries its shop, with or without a workspace', async t => {
  const claims = { kind: 'shopify' as const, workspace: 'acme', iat: 1, exp: 2, nonce: 'AAAAAAAAAAAAAAAAAAAAAA', binding: 'b'.repeat(42) + 'A', shop: 'demo-shop.myshopify.com' }
  t.same(decodeClaims(encodeClaims(claims)), claims)
  t.same(decodeClaims(encodeClaims({ ...claims, workspace: '' })), { ...claims, workspace: '' }, 'an install that started in Shopify')
  t.throws(() => encodeClaims({ ...claims, shop: undefined, workspace: '' }), 'no workspace without a shop')
  t.throws(() => encodeClaims({ ...claims, shop: 'evil.net' }))
  const token = issueToken([SECRET], 'shopify', '', { ttlSeconds: 60, shop: `${'s'.repeat(63)}.myshopify.com`, binding: 'b'.repeat(42) + 'A', linkExp: NOW }, NOW)
  t.equal(verifyToken([SECRET], token, 'shopify', NOW).shop, `${'s'.repeat(63)}.myshopify.com`, 'the longest shop name fits the token shape')
})

t.test('10,000+ random or mutated tokens: none accepted', async t => {
  const valid = issueToken([SECRET], 'facebook', 'acme', { ttlSeconds: 300, binding }, NOW)
  const numRuns = 10_000
  let tried = 0
  let accepted = 0
  const mutated = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }))
    .map(([at, text]) => valid.slice(0, at) + text + valid.slice(at + 1))
    .filter(candidate => candidate !== valid)
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 1200 }), mutated, fc.base64String({ maxLength: 400 }).map(s => `${s}.${'A'.repeat(43)}`)), candidate => {
    tried++
    if (refusal(() => verifyToken([SECRET], candidate, 'facebook', NOW)) === 'accepted') accepted++
    return true
  }), { numRuns })
  t.comment(`fast-check: ${tried} random or mutated tokens tried, ${accepted} accepted`)
  t.equal(tried, numRuns)
  t.equal(accepted, 0)
})

t.test('rememberSigned asks once per accepted token, every time for a refused one, and forgets the oldest past its size', async t => {
  const asked: string[] = []
  const signed = rememberSigned(token => {
    asked.push(token)
    if (token.startsWith('bad')) throw new StateTokenError('signature')
    return { kind: 'connect', workspace: token, iat: NOW, exp: NOW + 60, nonce: 'A'.repeat(22) }
  }, 2)
  const claims: Claims = signed('one')
  t.equal(signed('one'), claims, 'the same claims, remembered')
  t.ok(Object.isFrozen(claims), 'shared, so frozen')
  t.throws(() => signed('bad'))
  t.throws(() => signed('bad'))
  signed('two')
  signed('three')
  signed('three')
  signed('one')
  t.same(asked, ['one', 'bad', 'bad', 'two', 'three', 'one'], 'one was forgotten when three came')
})
