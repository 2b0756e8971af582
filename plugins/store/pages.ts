import type { Cipher } from './cipher.js'
import type { Db, Queryable } from './db.js'

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
  /** `grantedPermissions`: what the user granted the app, kept so the connect page can show what is missing */
  user: { id: string, name: string, accessToken: string, grantedPermissions?: string[] }
  pages: ConnectedPage[]
}

export interface SavedConnection {
  moved: Array<{ id: string, fromWorkspace: string }>
  /** Pages another workspace holds, left there: this user may neither message for them nor manage them */
  elsewhere: string[]
}

/** What a Page's customers left with it: their conversations, messages, delivery keys and notification tokens. */
async function eraseCustomerData (tx: Queryable, pageIds: string[]): Promise<void> {
  if (pageIds.length === 0) return
  for (const table of ['messages', 'conversations', 'messenger_events', 'notification_tokens', 'outbox']) {
    await tx.query(`DELETE FROM ${table} WHERE page_id = ANY($1::text[])`, [pageIds])
  }
}

export const userAad = (id: string) => `facebook-user:${id}`
export const pageAad = (id: string) => `page:${id}`

/** Workspaces, the Facebook users who connected Pages, the Pages with their sealed tokens, and Meta's deletion requests. */
export function createPageStore (db: Db, cipher: Cipher) {
  return {
    async ensureWorkspace (workspace: string): Promise<void> {
      await db.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [workspace])
    },

    async listWorkspaces (): Promise<Array<{ id: string, pageCount: number }>> {
      return db.query(`
        SELECT w.id, count(p.id)::integer AS "pageCount"
        FROM workspaces w LEFT JOIN pages p ON p.workspace_id = w.id
        GROUP BY w.id ORDER BY w.id`)
    },

    async inWorkspace (workspace: string, pageId: string): Promise<boolean> {
      return (await db.query('SELECT 1 FROM pages WHERE workspace_id = $1 AND id = $2', [workspace, pageId])).length > 0
    },

    async list (workspace: string): Promise<PageSummary[]> {
      return db.query(`
        SELECT id, name, category, tasks, can_message AS "canMessage", status, subscribed
        FROM pages WHERE workspace_id = $1 ORDER BY name, id`, [workspace])
    },

    /** The Page's token; undefined when the Page is not in the workspace or its token was deleted. */
    async token (workspace: string, pageId: string): Promise<string | undefined> {
      const [row] = await db.query<{ token_ciphertext: string, token_key_id: string }>(
        'SELECT token_ciphertext, token_key_id FROM pages WHERE workspace_id = $1 AND id = $2 AND token_ciphertext IS NOT NULL',
        [workspace, pageId])
      return row === undefined ? undefined : cipher.open({ ciphertext: row.token_ciphertext, keyId: row.token_key_id }, pageAad(pageId))
    },

    /** The Page's token wherever it is connected (the outbox sends for any workspace); undefined without one. */
    async tokenOf (pageId: string): Promise<string | undefined> {
      const [row] = await db.query<{ token_ciphertext: string, token_key_id: string }>(
        'SELECT token_ciphertext, token_key_id FROM pages WHERE id = $1 AND token_ciphertext IS NOT NULL', [pageId])
      return row === undefined ? undefined : cipher.open({ ciphertext: row.token_ciphertext, keyId: row.token_key_id }, pageAad(pageId))
    },

    /**
     * What the people who connected the workspace's Pages granted the app, one list per person (those connected
     * before this was kept are left out): the connect page shows what any of them did not grant.
     */
    async grantedPermissions (workspace: string): Promise<string[][]> {
      const rows = await db.query<{ granted_permissions: string[] }>(`
        SELECT DISTINCT u.id, u.granted_permissions FROM pages p JOIN facebook_users u ON u.id = p.connected_by
        WHERE p.workspace_id = $1 AND u.granted_permissions IS NOT NULL`, [workspace])
      return rows.map(row => row.granted_permissions)
    },

    /** `fields`: the webhook fields of a subscription just made, so a later change of them is noticed at start. */
    async setSubscribed (pageId: string, subscribed: boolean, fields?: string): Promise<void> {
      await db.query('UPDATE pages SET subscribed = $2, subscribed_fields = COALESCE($3, subscribed_fields) WHERE id = $1',
        [pageId, subscribed, fields ?? null])
    },

    /**
     * Takes the subscribed Pages whose subscription predates `fields` (marking them current, so of several replicas
     * starting together one subscribes each): they are to be subscribed again.
     */
    async claimOutdatedSubscriptions (fields: string): Promise<string[]> {
      const rows = await db.query<{ id: string }>(`UPDATE pages SET subscribed_fields = $1
        WHERE subscribed AND status = 'connected' AND subscribed_fields IS DISTINCT FROM $1 RETURNING id`, [fields])
      return rows.map(row => row.id)
    },

    /** Subscribing again failed: the next start tries again. */
    async forgetSubscribedFields (pageIds: string[]): Promise<void> {
      await db.query('UPDATE pages SET subscribed_fields = NULL WHERE id = ANY($1::text[])', [pageIds])
    },

    /** Graph refused the Page's token (error 190): it stays listed, marked for the owner to connect again. */
    async markNeedsReconnect (pageId: string): Promise<void> {
      await db.query("UPDATE pages SET status = 'needs_reconnect', subscribed = false WHERE id = $1", [pageId])
    },

    /** Removes the Page with what its customers left with it, in one transaction; false when it is not in the workspace. */
    async delete (workspace: string, pageId: string): Promise<boolean> {
      return db.transaction(async tx => {
        const rows = await tx.query('DELETE FROM pages WHERE workspace_id = $1 AND id = $2 RETURNING id', [workspace, pageId])
        if (rows.length > 0) await eraseCustomerData(tx, [pageId])
        return rows.length > 0
      })
    },

    /**
     * Stores the user and their Pages in one transaction, tokens sealed. A Page another workspace holds moves here
     * only when this user may message for it or manage it (MESSAGING or MANAGE): anyone with a lesser role could
     * otherwise take it. A moved Page arrives without its conversations. Returns the Pages moved here (with the
     * workspace they left) and the Pages left where they were.
     */
    async saveConnection ({ workspace, user, pages }: Connection): Promise<SavedConnection> {
      const userToken = cipher.seal(user.accessToken, userAad(user.id))
      return db.transaction(async tx => {
        await tx.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [workspace])
        await tx.query(`
          INSERT INTO facebook_users (id, name, token_ciphertext, token_key_id, granted_permissions) VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (id) DO UPDATE SET name = excluded.name, token_ciphertext = excluded.token_ciphertext,
            token_key_id = excluded.token_key_id, updated_at = now(),
            granted_permissions = COALESCE(excluded.granted_permissions, facebook_users.granted_permissions)`,
        [user.id, user.name, userToken.ciphertext, userToken.keyId,
          user.grantedPermissions === undefined ? null : JSON.stringify(user.grantedPermissions)])
        const held = new Map((await tx.query<{ id: string, workspace_id: string }>(
          'SELECT id, workspace_id FROM pages WHERE id = ANY($1::text[]) FOR UPDATE', [pages.map(page => page.id)]))
          .map(row => [row.id, row.workspace_id]))
        const heldElsewhere = (page: ConnectedPage) => held.has(page.id) && held.get(page.id) !== workspace
        const mayTake = (page: ConnectedPage) => page.tasks.includes('MESSAGING') || page.tasks.includes('MANAGE')
        const elsewhere = pages.filter(page => heldElsewhere(page) && !mayTake(page)).map(page => page.id)
        const kept = pages.filter(page => !elsewhere.includes(page.id))
        const moved = kept.filter(heldElsewhere).map(page => ({ id: page.id, fromWorkspace: held.get(page.id)! }))
        const incoming = kept.map(page => {
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
        const movedIds = moved.map(page => page.id)
        await eraseCustomerData(tx, movedIds)
        await tx.query('DELETE FROM page_connections WHERE page_id = ANY($1::text[])', [movedIds])
        await tx.query(`
          INSERT INTO pages (id, workspace_id, name, category, tasks, can_message, status, connected_by, token_ciphertext, token_key_id)
          SELECT id, $2, name, category, tasks, can_message, 'connected', $3, token_ciphertext, token_key_id
          FROM jsonb_to_recordset($1::jsonb) AS t (id text, name text, category text, tasks jsonb, can_message boolean,
            token_ciphertext text, token_key_id text)
          ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, name = excluded.name,
            category = excluded.category, tasks = excluded.tasks, can_message = excluded.can_message, status = 'connected',
            subscribed = false, connected_by = excluded.connected_by, token_ciphertext = excluded.token_ciphertext,
            token_key_id = excluded.token_key_id, updated_at = now()`,
        [JSON.stringify(incoming), workspace, user.id])
        await tx.query('INSERT INTO page_connections (page_id, user_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING',
          [kept.map(page => page.id), user.id])
        return { moved, elsewhere }
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
        await eraseCustomerData(tx, solo)
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
      await db.query("INSERT INTO data_deletions (confirmation_code, status) VALUES ($1, 'completed') ON CONFLICT DO NOTHING",
        [confirmationCode])
    },

    async dataDeletion (confirmationCode: string): Promise<{ status: string, requestedAt: string } | undefined> {
      const [row] = await db.query<{ status: string, requested_at: Date }>(
        'SELECT status, requested_at FROM data_deletions WHERE confirmation_code = $1', [confirmationCode])
      return row === undefined ? undefined : { status: row.status, requestedAt: new Date(row.requested_at).toISOString() }
    }
  }
}
