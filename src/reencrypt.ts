import { ConfigError, loadConfig } from '../plugins/core/config.js'
import { openStore } from '../plugins/store/index.js'

/** Re-seals every stored token under the first TOKEN_ENCRYPTION_KEY, so older keys can be dropped. */
try {
  const config = loadConfig(process.env, { dotenv: true })
  const { db, store } = await openStore({
    encryptionKeys: config.TOKEN_ENCRYPTION_KEY,
    databaseUrl: config.DATABASE_URL,
    poolSize: 1,
    dataDir: config.DATA_DIR
  })
  try {
    const count = await store.reencrypt()
    process.stdout.write(`re-encrypted ${count} token(s) under the first key\n`)
  } finally {
    await db.close()
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`${err.message}\n`)
  process.exitCode = 1
}
