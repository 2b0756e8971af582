import t from 'tap'
import { parseSignedRequest, SignedRequestError } from '../../../plugins/facebook/signed-request.js'
import { signedRequest } from '../../../tools/emulator/facebook.js'

const SECRET = 'app-secret-for-signed-requests'
const NOW = 1_800_000_000
const reason = (value: unknown) => {
  try {
    parseSignedRequest(SECRET, value, NOW)
    return 'accepted'
  } catch (err) {
    if (err instanceof SignedRequestError) return err.reason
    throw err
  }
}

t.test('a good signed_request gives the user id', async t => {
  t.same(parseSignedRequest(SECRET, signedRequest(SECRET, { user_id: '12345', issued_at: NOW }), NOW), { userId: '12345', issuedAt: NOW })
})

t.test('forged, other algorithms, far-future, malformed: refused', async t => {
  const good = signedRequest(SECRET, { user_id: '12345', issued_at: NOW })
  t.equal(reason(signedRequest('another-secret', { user_id: '12345', issued_at: NOW })), 'signature')
  t.equal(reason(good.replace(/\.(.)/, (_, c: string) => `.${c === 'A' ? 'B' : 'A'}`)), 'signature', 'payload changed')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW }, 'HMAC-SHA1')), 'algorithm')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW }, 'none')), 'algorithm')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW + 301 })), 'future')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW + 300 })), 'accepted')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW - 3601 })), 'expired', 'over an hour old')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW - 90 * 86400 })), 'expired', '90 days old')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345', issued_at: NOW - 3600 })), 'accepted')
  t.equal(reason(signedRequest(SECRET, { user_id: 'abc', issued_at: NOW })), 'malformed')
  t.equal(reason(signedRequest(SECRET, { user_id: '12345' })), 'malformed')
  for (const bad of [undefined, '', 'abc', good.replace('.', ''), `${good}.x`, `${good}${'A'.repeat(5000)}`, `A${good}`]) {
    t.equal(reason(bad), 'malformed', String(bad).slice(0, 16))
  }
})
