import type { Cipher } from './cipher.js'
import type { Db } from './db.js'

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

    async setSubscribed (pageId: string, subscribed: boolean): Promise<void> {
      await db.query('UPDATE pages SET subscribed = $2 WHERE id = $1', [pageId, subscribed])
    },

    /** Graph refused the Page's token (error 190): it stays listed, marked for the owner to connect again. */
    async markNeedsReconnect (pageId: string): Promise<void> {
      await db.query("UPDATE pages SET status = 'needs_reconnect', subscribed = false WHERE id = $1", [pageId])
    },

    async delete (workspace: string, pageId: string): Promise<boolean> {
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
    }
  }
}
