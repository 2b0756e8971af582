import type { Db } from './db.js'

export interface BotSettings { enabled: boolean, greeting: string | null, maxProducts: number }

/** What the bot needs to answer one customer: the workspace's settings, its shop, and the conversation's state. */
export interface BotContext {
  workspace: string
  settings: BotSettings
  canMessage: boolean
  /** the workspace's shop when it is connected */
  shop: string | null
  withHuman: boolean
  disclosed: boolean
}

export function createBotStore (db: Db) {
  return {
    async context (pageId: string, psid: string): Promise<BotContext | undefined> {
      const [row] = await db.query<{
        workspace_id: string,
        bot_enabled: boolean,
        bot_greeting: string | null,
        bot_max_products: number,
        can_message: boolean,
        status: string,
        shop: string | null,
        with_human: boolean | null,
        disclosed: boolean | null
      }>(`
        SELECT p.workspace_id, w.bot_enabled, w.bot_greeting, w.bot_max_products, p.can_message, p.status,
          (SELECT s.shop FROM shops s WHERE s.workspace_id = p.workspace_id AND s.status = 'connected') AS shop,
          c.with_human, c.disclosed
        FROM pages p JOIN workspaces w ON w.id = p.workspace_id
        LEFT JOIN conversations c ON c.page_id = p.id AND c.psid = $2
        WHERE p.id = $1`, [pageId, psid])
      if (row === undefined) return undefined
      return {
        workspace: row.workspace_id,
        settings: { enabled: row.bot_enabled, greeting: row.bot_greeting, maxProducts: row.bot_max_products },
        canMessage: row.can_message && row.status === 'connected',
        shop: row.shop,
        withHuman: row.with_human === true,
        disclosed: row.disclosed === true
      }
    },

    async settings (workspace: string): Promise<BotSettings | undefined> {
      const [row] = await db.query<{ bot_enabled: boolean, bot_greeting: string | null, bot_max_products: number }>(
        'SELECT bot_enabled, bot_greeting, bot_max_products FROM workspaces WHERE id = $1', [workspace])
      return row === undefined ? undefined : { enabled: row.bot_enabled, greeting: row.bot_greeting, maxProducts: row.bot_max_products }
    },

    async saveSettings (workspace: string, settings: BotSettings): Promise<void> {
      await db.query(`INSERT INTO workspaces (id, bot_enabled, bot_greeting, bot_max_products) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO UPDATE SET bot_enabled = excluded.bot_enabled, bot_greeting = excluded.bot_greeting,
          bot_max_products = excluded.bot_max_products`, [workspace, settings.enabled, settings.greeting, settings.maxProducts])
    },

    async setDisclosed (pageId: string, psid: string, disclosed: boolean): Promise<void> {
      await db.query('UPDATE conversations SET disclosed = $3 WHERE page_id = $1 AND psid = $2', [pageId, psid, disclosed])
    },

    /** A person has the conversation (true) or the bot has it back (false, and it says again that it is a bot). */
    async setWithHuman (pageId: string, psid: string, withHuman: boolean): Promise<boolean> {
      const rows = await db.query(`UPDATE conversations SET with_human = $3, disclosed = CASE WHEN $3 THEN disclosed ELSE false END
        WHERE page_id = $1 AND psid = $2 RETURNING 1`, [pageId, psid, withHuman])
      return rows.length > 0
    },

    async setOptedOut (pageId: string, psid: string, optedOut: boolean): Promise<void> {
      await db.query('UPDATE conversations SET opted_out = $3 WHERE page_id = $1 AND psid = $2', [pageId, psid, optedOut])
    }
  }
}

export type BotStore = ReturnType<typeof createBotStore>
