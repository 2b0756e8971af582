import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { parseEncryptionKeys } from '../plugins/core/encryption-keys.js'
import { createCipher } from '../plugins/store/cipher.js'
import { notificationTokenAad } from '../plugins/store/conversations.js'
import { openStore } from '../plugins/store/index.js'
import { seededDataDir, testEnv } from './helper.js'

t.test('npm run reencrypt re-seals every token under the first key, so the old key can go', async t => {
  const dataDir = await seededDataDir(t)
  const [oldKey, newKey] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')]
  const before = await openStore({ dataDir, encryptionKeys: oldKey })
  await before.store.pages.saveConnection({
    workspace: 'rotate',
    user: { id: '1', name: 'U', accessToken: 'EAAuser-token' },
    pages: [{ id: '11', name: 'P', category: '', tasks: ['MESSAGING'], canMessage: true, accessToken: 'EAApage-token' }]
  })
  await before.store.conversations.apply([{
    id: '0',
    events: [{ kind: 'optin', pageId: '11', psid: '21', key: 'optin:11:21:1', at: new Date(), notificationToken: { token: 'NMT-token', frequency: 'DAILY', expiresAt: null } }]
  }])
  await before.db.close()

  const run = spawnSync(process.execPath, ['dist/src/reencrypt.js'], {
    env: { ...testEnv({ DATA_DIR: dataDir, TOKEN_ENCRYPTION_KEY: `${newKey},${oldKey}` }), PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 60_000
  })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, 're-encrypted 3 token(s) under the first key')

  const after = await openStore({ dataDir, encryptionKeys: newKey })
  t.teardown(() => after.db.close())
  const cipher = createCipher(parseEncryptionKeys(newKey))
  const [page] = await after.db.query<{ token_ciphertext: string, token_key_id: string }>("SELECT token_ciphertext, token_key_id FROM pages WHERE id = '11'")
  t.equal(cipher.open({ ciphertext: page!.token_ciphertext, keyId: page!.token_key_id }, 'page:11'), 'EAApage-token')
  const [optin] = await after.db.query<{ token_ciphertext: string, token_key_id: string }>('SELECT token_ciphertext, token_key_id FROM notification_tokens')
  t.equal(cipher.open({ ciphertext: optin!.token_ciphertext, keyId: optin!.token_key_id }, notificationTokenAad('11', '21')), 'NMT-token')
})
