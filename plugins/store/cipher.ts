import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { EncryptionKey } from '../core/encryption-keys.js'

export interface Sealed {
  ciphertext: string
  keyId: string
}

const NONCE_BYTES = 12
const TAG_BYTES = 16

export class DecryptionError extends Error {
  override name = 'DecryptionError'
}

/**
 * AES-256-GCM with a random 96-bit nonce per value. The associated data binds a ciphertext to its row,
 * so a value copied into another row does not decrypt.
 */
export function createCipher (keys: EncryptionKey[]) {
  const [current] = keys
  if (current === undefined) throw new Error('at least one encryption key is required')
  const byId = new Map(keys.map(k => [k.id, k.key]))

  function seal (plaintext: string, associatedData: string): Sealed {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', current!.key, nonce)
    cipher.setAAD(Buffer.from(associatedData))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return { ciphertext: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64'), keyId: current!.id }
  }

  function open ({ ciphertext, keyId }: Sealed, associatedData: string): string {
    const key = byId.get(keyId)
    if (key === undefined) throw new DecryptionError('unknown encryption key id')
    const raw = Buffer.from(ciphertext, 'base64')
    if (raw.length < NONCE_BYTES + TAG_BYTES) throw new DecryptionError('ciphertext too short')
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(associatedData))
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
      return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      throw new DecryptionError('ciphertext does not authenticate')
    }
  }

  return { seal, open, currentKeyId: current.id }
}

export type Cipher = ReturnType<typeof createCipher>
