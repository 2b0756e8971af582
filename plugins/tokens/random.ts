import { randomFillSync } from 'node:crypto'

// One call into the CSPRNG costs microseconds whatever its size: draw from it in 4 KiB blocks and hand out
// slices (as Node does for randomUUID). Each byte is handed out once.
const POOL_SIZE = 4096
const pool = Buffer.allocUnsafe(POOL_SIZE)
let offset = POOL_SIZE

/** `size` bytes from the CSPRNG as base64url text. */
export function randomText (size: number): string {
  if (offset + size > POOL_SIZE) {
    randomFillSync(pool)
    offset = 0
  }
  const text = pool.toString('base64url', offset, offset + size)
  offset += size
  return text
}
