import { join } from 'node:path'
import fp from 'fastify-plugin'
import { type Cipher, createCipher, parseEncryptionKeys } from './cipher.js'
import { type Db, openPglite, openPostgres, vacuumEmbedded } from './db.js'
import { createCatalogStore } from './catalog.js'
import { createInboxStore } from './inbox.js'
import { createShopStore, shopTokenAad } from './shops.js'
import { createMessengerStore, notificationTokenAad } from './conversations.js'
import { migrate } from './migrations.js'

export type PageStatus = 'connected' | 'needs_reconnect'

export interface ConnectedPage {
  id: string
  name: string
  category: string
  tasks: string[]
  canMessage: boolean
  accessToken: string
}

export interface PageSummary {
  id: string
  name: string
  category: string
  tasks: string[]
  canMessage: boolean
  status: PageStatus
  subscribed: boolean
}

export interface Connection {
  workspace: string
  user: { id: string, name: string, accessToken: string }
  pages: ConnectedPage[]
}

const userAad = (id: string) => `facebook-user:${id}`
const pageAad = (id: string) => `page:${id}`

export function createStore (db: Db, cipher: Cipher) {
  return {
    inbox: createInboxStore(db),
    messenger: createMessengerStore(db, cipher),
    shops: createShopStore(db, cipher),
    catalog: createCatalogStore(db),
    shopifyWebhooks: {
      async seen (webhookId: string): Promise<boolean> {
        return (await db.query('SELECT 1 FROM shopify_webhooks WHERE webhook_id = $1', [webhookId])).length > 0
      },
      async record (webhookId: string, shop: string, topic: string): Promise<void> {
        await db.query('INSERT INTO shopify_webhooks (webhook_id, shop, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [webhookId, shop, topic])
      }
    },

    /**
     * The keys that make a redelivered webhook a no-op matter while its sender retries (Shopify 8 times over 4 hours;
     * Meta gives up on a failing webhook after 8 hours): older than `days`, they are deleted. Shopify's compliance
     * requests (customers/*) stay, as the record of what was asked. Returns how many keys went.
     */
    async forgetDeliveryKeys (days: number): Promise<number> {
      const [row] = await db.query<{ forgotten: number }>(`
        WITH events AS (DELETE FROM messenger_events WHERE at < now() - make_interval(days => $1) RETURNING 1),
          webhooks AS (DELETE FROM shopify_webhooks WHERE received_at < now() - make_interval(days => $1)
            AND topic NOT LIKE 'customers/%' RETURNING 1)
        SELECT ((SELECT count(*) FROM events) + (SELECT count(*) FROM webhooks))::integer AS forgotten`, [days])
      const forgotten = row!.forgotten
      if (forgotten > 0) await vacuumEmbedded(db, ['messenger_events', 'shopify_webhooks'])
      return forgotten
    },

    async ping (): Promise<void> {
      await db.query('SELECT 1')
    },

    async ensureWorkspace (workspace: string): Promise<void> {
      await db.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [workspace])
    },

    async listWorkspaces (): Promise<Array<{ id: string, pageCount: number }>> {
      return db.query(`
        SELECT w.id, count(p.id)::integer AS "pageCount"
        FROM workspaces w LEFT JOIN pages p ON p.workspace_id = w.id
        GROUP BY w.id ORDER BY w.id`)
    },

    async pageInWorkspace (workspace: string, pageId: string): Promise<boolean> {
      return (await db.query('SELECT 1 FROM pages WHERE workspace_id = $1 AND id = $2', [workspace, pageId])).length > 0
    },

    async listPages (workspace: string): Promise<PageSummary[]> {
      return db.query(`
        SELECT id, name, category, tasks, can_message AS "canMessage", status, subscribed
        FROM pages WHERE workspace_id = $1 ORDER BY name, id`, [workspace])
    },

    /** The Page's token; undefined when the Page is not in the workspace or its token was deleted. */
    async pageToken (workspace: string, pageId: string): Promise<string | undefined> {
      const [row] = await db.query<{ token_ciphertext: string, token_key_id: string }>(
        'SELECT token_ciphertext, token_key_id FROM pages WHERE workspace_id = $1 AND id = $2 AND token_ciphertext IS NOT NULL', [workspace, pageId])
      return row === undefined ? undefined : cipher.open({ ciphertext: row.token_ciphertext, keyId: row.token_key_id }, pageAad(pageId))
    },

    async setSubscribed (pageId: string, subscribed: boolean): Promise<void> {
      await db.query('UPDATE pages SET subscribed = $2 WHERE id = $1', [pageId, subscribed])
    },

    /** Graph refused the Page's token (error 190): it stays listed, marked for the owner to connect again. */
    async markNeedsReconnect (pageId: string): Promise<void> {
      await db.query("UPDATE pages SET status = 'needs_reconnect', subscribed = false WHERE id = $1", [pageId])
    },

    async deletePage (workspace: string, pageId: string): Promise<boolean> {
      const rows = await db.query('DELETE FROM pages WHERE workspace_id = $1 AND id = $2 RETURNING id', [workspace, pageId])
      return rows.length > 0
    },

    /**
     * Stores the user and their Pages in one transaction, tokens sealed. Returns the Pages that were
     * moved here from another workspace, with the workspace they left.
     */
    async saveConnection ({ workspace, user, pages }: Connection): Promise<Array<{ id: string, fromWorkspace: string }>> {
      const userToken = cipher.seal(user.accessToken, userAad(user.id))
      const incoming = pages.map(page => {
        const token = cipher.seal(page.accessToken, pageAad(page.id))
        return {
          id: page.id,
          name: page.name,
          category: page.category,
          tasks: page.tasks,
          can_message: page.canMessage,
          token_ciphertext: token.ciphertext,
          token_key_id: token.keyId
        }
      })
      return db.transaction(async tx => {
        await tx.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [workspace])
        await tx.query(`
          INSERT INTO facebook_users (id, name, token_ciphertext, token_key_id) VALUES ($1, $2, $3, $4)
          ON CONFLICT (id) DO UPDATE SET name = excluded.name, token_ciphertext = excluded.token_ciphertext,
            token_key_id = excluded.token_key_id, updated_at = now()`,
        [user.id, user.name, userToken.ciphertext, userToken.keyId])
        // "previous" reads the snapshot from before the upsert, so it still sees each Page's old workspace;
        // PostgreSQL runs the data-modifying CTE whether or not the outer query reads it.
        const moved = await tx.query<{ id: string, fromWorkspace: string }>(`
          WITH incoming AS (
            SELECT * FROM jsonb_to_recordset($1::jsonb) AS t (id text, name text, category text, tasks jsonb,
              can_message boolean, token_ciphertext text, token_key_id text)
          ), previous AS (
            SELECT id, workspace_id FROM pages WHERE id IN (SELECT id FROM incoming)
          ), upserted AS (
            INSERT INTO pages (id, workspace_id, name, category, tasks, can_message, status, connected_by,
              token_ciphertext, token_key_id)
            SELECT id, $2, name, category, tasks, can_message, 'connected', $3, token_ciphertext, token_key_id FROM incoming
            ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, name = excluded.name,
              category = excluded.category, tasks = excluded.tasks, can_message = excluded.can_message,
              status = 'connected', subscribed = false, connected_by = excluded.connected_by, token_ciphertext = excluded.token_ciphertext,
              token_key_id = excluded.token_key_id, updated_at = now()
          )
          SELECT id, workspace_id AS "fromWorkspace" FROM previous WHERE workspace_id <> $2`,
        [JSON.stringify(incoming), workspace, user.id])
        await tx.query(`INSERT INTO page_connections (page_id, user_id) SELECT id, $2 FROM jsonb_to_recordset($1::jsonb) AS t (id text)
          ON CONFLICT DO NOTHING`, [JSON.stringify(incoming.map(({ id }) => ({ id }))), user.id])
        return moved
      })
    },

    /**
     * Meta's deauthorize / data deletion: the user, their connections, the Pages only they connected with those
     * Pages' conversations. A Page someone else also connected stays; if its token was this user's, the token is
     * deleted and the Page marked needs_reconnect. Returns how many Pages were deleted.
     */
    async deleteUserData (userId: string): Promise<number> {
      return db.transaction(async tx => {
        const solo = (await tx.query<{ id: string }>(`
          SELECT page_id AS id FROM page_connections c WHERE user_id = $1
            AND NOT EXISTS (SELECT 1 FROM page_connections o WHERE o.page_id = c.page_id AND o.user_id <> $1)`, [userId])).map(r => r.id)
        for (const table of ['messages', 'conversations', 'messenger_events', 'notification_tokens']) {
          await tx.query(`DELETE FROM ${table} WHERE page_id = ANY($1::text[])`, [solo])
        }
        await tx.query('DELETE FROM pages WHERE id = ANY($1::text[])', [solo])
        await tx.query(`
          UPDATE pages SET token_ciphertext = NULL, token_key_id = NULL, status = 'needs_reconnect', subscribed = false,
            connected_by = (SELECT user_id FROM page_connections o WHERE o.page_id = pages.id AND o.user_id <> $1 LIMIT 1)
          WHERE connected_by = $1`, [userId])
        await tx.query('DELETE FROM facebook_users WHERE id = $1', [userId])
        return solo.length
      })
    },

    async recordDataDeletion (confirmationCode: string): Promise<void> {
      await db.query("INSERT INTO data_deletions (confirmation_code, status) VALUES ($1, 'completed')", [confirmationCode])
    },

    async dataDeletion (confirmationCode: string): Promise<{ status: string, requestedAt: string } | undefined> {
      const [row] = await db.query<{ status: string, requested_at: Date }>(
        'SELECT status, requested_at FROM data_deletions WHERE confirmation_code = $1', [confirmationCode])
      return row === undefined ? undefined : { status: row.status, requestedAt: new Date(row.requested_at).toISOString() }
    },

    /** Re-seals every token not sealed under the first key; returns how many were rewritten. */
    async reencrypt (): Promise<number> {
      return db.transaction(async tx => {
        let count = 0
        // Each table names its row key as "id" and says how that key binds the ciphertext (the AAD).
        const tables = [
          ['facebook_users', 'id', userAad],
          ['pages', 'id', pageAad],
          ['notification_tokens', "page_id || ':' || psid", (key: string) => notificationTokenAad(...key.split(':') as [string, string])],
          ['shop_tokens', "shop || ':' || kind", shopTokenAad]
        ] as const
        for (const [table, key, aad] of tables) {
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

const DELIVERY_KEY_DAYS = 7

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
    store.forgetDeliveryKeys(DELIVERY_KEY_DAYS).catch(err => fastify.log.warn({ err }, 'old delivery keys not forgotten'))
  }, housekeepingMs).unref()
  fastify.addHook('onClose', async () => {
    clearInterval(housekeeping)
    if (sharedDb === undefined) await db.close()
  })
}, { name: 'store', dependencies: ['config'], fastify: '5.x' })
