import { randomBytes } from 'node:crypto'
import t from 'tap'
import { parseEncryptionKeys } from '../../../plugins/core/encryption-keys.js'
import { createCipher, DecryptionError } from '../../../plugins/store/cipher.js'

const hexKey = randomBytes(32).toString('hex')
const base64Key = randomBytes(32).toString('base64')

t.test('keys are read from hex or base64 of exactly 32 bytes', async t => {
  const keys = parseEncryptionKeys(`${hexKey}, ${base64Key}`)
  t.equal(keys.length, 2)
  t.same(keys[0]!.key, Buffer.from(hexKey, 'hex'))
  t.same(keys[1]!.key, Buffer.from(base64Key, 'base64'))
  t.match(keys[0]!.id, /^[0-9a-f]{12}$/)
  t.not(keys[0]!.id, keys[1]!.id)
  t.notMatch(hexKey, keys[0]!.id, 'the key id does not reveal the key')
  for (const bad of ['', 'abc', 'z'.repeat(64), randomBytes(31).toString('hex'), randomBytes(33).toString('base64'), randomBytes(16).toString('base64'), `${hexKey},`]) {
    t.throws(() => parseEncryptionKeys(bad), /must be a comma-separated list of 32-byte keys/)
  }
})

t.test('a sealed value opens to the same text and differs every time', async t => {
  const cipher = createCipher(parseEncryptionKeys(hexKey))
  const a = cipher.seal('EAA-token-😀', 'page:1')
  const b = cipher.seal('EAA-token-😀', 'page:1')
  t.not(a.ciphertext, b.ciphertext, 'a fresh nonce per value')
  t.notMatch(Buffer.from(a.ciphertext, 'base64').toString('latin1'), 'EAA-token')
  t.equal(a.keyId, cipher.currentKeyId)
  t.equal(cipher.open(a, 'page:1'), 'EAA-token-😀')
  t.equal(Buffer.from(a.ciphertext, 'base64').length, 12 + Buffer.byteLength('EAA-token-😀') + 16, 'nonce, body and tag')
})

t.test('rotation: the first key seals, every listed key opens', async t => {
  const [oldKey, newKey] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')]
  const before = createCipher(parseEncryptionKeys(oldKey)).seal('secret', 'row')
  const after = createCipher(parseEncryptionKeys(`${newKey},${oldKey}`))
  t.equal(after.open(before, 'row'), 'secret')
  t.not(after.seal('secret', 'row').keyId, before.keyId)
  t.throws(() => createCipher(parseEncryptionKeys(newKey)).open(before, 'row'), DecryptionError, 'a dropped key no longer opens')
})

t.test('tampered ciphertext, nonce, tag, key id or row are refused', async t => {
  const cipher = createCipher(parseEncryptionKeys(hexKey))
  const sealed = cipher.seal('secret', 'page:1')
  const raw = Buffer.from(sealed.ciphertext, 'base64')
  const flip = (at: number) => {
    const copy = Buffer.from(raw)
    copy[at] = copy[at]! ^ 1
    return { ...sealed, ciphertext: copy.toString('base64') }
  }
  t.throws(() => cipher.open(flip(0), 'page:1'), DecryptionError, 'nonce')
  t.throws(() => cipher.open(flip(13), 'page:1'), DecryptionError, 'body')
  t.throws(() => cipher.open(flip(raw.length - 1), 'page:1'), DecryptionError, 'tag')
  t.throws(() => cipher.open({ ...sealed, keyId: 'ffffffffffff' }, 'page:1'), DecryptionError, 'key id')
  t.throws(() => cipher.open(sealed, 'page:2'), DecryptionError, 'copied to another row')
  t.throws(() => cipher.open({ ...sealed, ciphertext: 'AAAA' }, 'page:1'), DecryptionError, 'truncated')
})
