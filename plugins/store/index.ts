import { join } from 'node:path'
import fp from 'fastify-plugin'
import { parseEncryptionKeys } from '../core/encryption-keys.js'
import { createAnalyticsStore } from './analytics.js'
import { createBotStore } from './bot.js'
import { createCampaignStore } from './campaigns.js'
import { createCatalogStore } from './catalog.js'
import { type Cipher, createCipher } from './cipher.js'
import { createClickStore } from './clicks.js'
import { createConversationStore } from './conversations.js'
import { type Db, openPglite, openPostgres, restrictToOwner } from './db.js'
import { createDeliveryKeyStore, DELIVERY_KEY_DAYS } from './delivery-keys.js'
import { createInboxStore } from './inbox.js'
import { migrate } from './migrations.js'
import { createOrderStore } from './orders.js'
import { createOutboxStore } from './outbox.js'
import { createPageStore } from './pages.js'
import { reencryptTokens } from './reencrypt.js'
import { createShopStore } from './shops.js'

export function createStore (db: Db, cipher: Cipher) {
  return {
    pages: createPageStore(db, cipher),
    conversations: createConversationStore(db, cipher),
    bot: createBotStore(db),
    inbox: createInboxStore(db),
    outbox: createOutboxStore(db),
    campaigns: createCampaignStore(db),
    clicks: createClickStore(db),
    analytics: createAnalyticsStore(db),
    orders: createOrderStore(db),
    shops: createShopStore(db, cipher),
    catalog: createCatalogStore(db),
    deliveryKeys: createDeliveryKeyStore(db),
    reencrypt: () => reencryptTokens(db, cipher),
    async ping (): Promise<void> {
      await db.query('SELECT 1')
    }
  }
}

export type Store = ReturnType<typeof createStore>

export interface StoreOptions {
  encryptionKeys: string
  /** an open database the caller owns; otherwise PostgreSQL at databaseUrl, or PGlite in dataDir (in memory without one) */
  db?: Db
  databaseUrl?: string
  poolSize?: number
  dataDir?: string
  onIdleError?: (err: Error) => void
}

export async function openStore (options: StoreOptions) {
  // DATA_DIR itself; the store's files are tightened once, by openPglite, after the engine has written its own.
  if (options.db === undefined && !options.databaseUrl && options.dataDir !== undefined) {
    await restrictToOwner(options.dataDir, { contents: false })
  }
  const db = options.db ?? (options.databaseUrl
    ? openPostgres(options.databaseUrl, options.poolSize ?? 10, options.onIdleError ?? (() => {}))
    : await openPglite(options.dataDir === undefined ? undefined : join(options.dataDir, 'pglite')))
  try {
    await migrate(db)
  } catch (err) {
    if (options.db === undefined) await db.close()
    throw err
  }
  return { db, store: createStore(db, createCipher(parseEncryptionKeys(options.encryptionKeys))) }
}

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

/** With `db` given (tests share one per file), the caller owns and closes it. */
export default fp<{ db?: Db, housekeepingMs?: number }>(async (fastify, { db: sharedDb, housekeepingMs = 3_600_000 }) => {
  const { config } = fastify
  const { db, store } = await openStore({
    encryptionKeys: config.TOKEN_ENCRYPTION_KEY,
    ...(sharedDb === undefined ? {} : { db: sharedDb }),
    databaseUrl: config.DATABASE_URL,
    poolSize: config.DATABASE_POOL_SIZE,
    dataDir: config.DATA_DIR,
    onIdleError: err => fastify.log.warn({ err }, 'an idle database connection failed')
  })
  fastify.decorate('store', store)
  // Every replica runs it; the result is the same.
  const housekeeping = setInterval(() => {
    store.deliveryKeys.forget(DELIVERY_KEY_DAYS).catch(err => fastify.log.warn({ err }, 'old delivery keys not forgotten'))
  }, housekeepingMs).unref()
  fastify.addHook('onClose', async () => {
    clearInterval(housekeeping)
    if (sharedDb === undefined) await db.close()
  })
}, { name: 'store', dependencies: ['config'], fastify: '5.x' })
