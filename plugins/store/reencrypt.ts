import type { Cipher } from './cipher.js'
import { notificationTokenAad } from './conversations.js'
import type { Db } from './db.js'
import { pageAad, userAad } from './pages.js'
import { shopTokenAad } from './shops.js'

// Each table names its row key as "id" and says how that key binds the ciphertext (the AAD).
const SEALED_TABLES = [
  ['facebook_users', 'id', userAad],
  ['pages', 'id', pageAad],
  ['notification_tokens', "page_id || ':' || psid", (key: string) => notificationTokenAad(...key.split(':') as [string, string])],
  ['shop_tokens', "shop || ':' || kind", shopTokenAad]
] as const

/** Re-seals every token not sealed under the cipher's first key, across all tables; returns how many were rewritten. */
export async function reencryptTokens (db: Db, cipher: Cipher): Promise<number> {
  return db.transaction(async tx => {
    let count = 0
    for (const [table, key, aad] of SEALED_TABLES) {
      const rows = await tx.query<{ id: string, token_ciphertext: string, token_key_id: string }>(
        `SELECT ${key} AS id, token_ciphertext, token_key_id FROM ${table} WHERE token_key_id <> $1 FOR UPDATE`, [cipher.currentKeyId])
      for (const row of rows) {
        const plain = cipher.open({ ciphertext: row.token_ciphertext, keyId: row.token_key_id }, aad(row.id))
        const sealed = cipher.seal(plain, aad(row.id))
        await tx.query(`UPDATE ${table} SET token_ciphertext = $1, token_key_id = $2 WHERE ${key} = $3`,
          [sealed.ciphertext, sealed.keyId, row.id])
        count++
      }
    }
    return count
  })
}
