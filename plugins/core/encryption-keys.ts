import { createHash } from 'node:crypto'

/** TOKEN_ENCRYPTION_KEY, read once at boot by the config and again by the store's cipher. */
export interface EncryptionKey {
  id: string
  key: Buffer
}

function decodeKey (text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, 'base64') : undefined
  if (key === undefined || key.length !== 32 || (text.length !== 64 && key.toString('base64') !== text)) {
    throw new Error('must be a comma-separated list of 32-byte keys, each 64 hex characters or base64 of exactly 32 bytes')
  }
  // The all-zero key of .env.example, or any key of one repeated byte, is no secret.
  if (key.every(byte => byte === key[0])) throw new Error('must be random, not one byte repeated (generate one with: openssl rand -hex 32)')
  return key
}

/** The key id is a digest prefix, so rows say which key sealed them without revealing it. */
export function parseEncryptionKeys (value: string): EncryptionKey[] {
  return value.split(',').map(part => {
    const key = decodeKey(part.trim())
    return { id: createHash('sha256').update(key).digest('hex').slice(0, 12), key }
  })
}
