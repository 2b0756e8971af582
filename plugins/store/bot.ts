import type { Db } from './db.js'

export interface BotSettings {
  enabled: boolean
  greeting: string | null
  maxProducts: number
  /** the LLM writes the answers (when the service has one); null: the default, on */
  llm: boolean | null
  /** the shop owner's words to the model: tone, what to push, what never to say */
  instructions: string
  /** prompt + completion tokens a UTC day; null: no limit */
  dailyTokenBudget: number | null
}

export const DEFAULT_SETTINGS: BotSettings = {
  enabled: true, greeting: null, maxProducts: 5, llm: null, instructions: '', dailyTokenBudget: null
}

/** Tokens a workspace's model spent on one UTC day. */
export interface LlmUsage { date: string, promptTokens: number, completionTokens: number }

interface SettingsRow {
  bot_enabled: boolean
  bot_greeting: string | null
  bot_max_products: number
  bot_llm: boolean | null
  bot_instructions: string
  bot_daily_token_budget: number | null
}
const SETTINGS_COLUMNS = 'w.bot_enabled, w.bot_greeting, w.bot_max_products, w.bot_llm, w.bot_instructions, w.bot_daily_token_budget'
const settingsOf = (row: SettingsRow): BotSettings => ({
  enabled: row.bot_enabled,
  greeting: row.bot_greeting,
  maxProducts: row.bot_max_products,
  llm: row.bot_llm,
  instructions: row.bot_instructions,
  dailyTokenBudget: row.bot_daily_token_budget
})
const utcDay = (at: Date) => at.toISOString().slice(0, 10)

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
      const [row] = await db.query<SettingsRow & {
        workspace_id: string,
        can_message: boolean,
        status: string,
        shop: string | null,
        with_human: boolean | null,
        disclosed: boolean | null
      }>(`
        SELECT p.workspace_id, ${SETTINGS_COLUMNS}, p.can_message, p.status,
          (SELECT s.shop FROM shops s WHERE s.workspace_id = p.workspace_id AND s.status = 'connected') AS shop,
          c.with_human, c.disclosed
        FROM pages p JOIN workspaces w ON w.id = p.workspace_id
        LEFT JOIN conversations c ON c.page_id = p.id AND c.psid = $2
        WHERE p.id = $1`, [pageId, psid])
      if (row === undefined) return undefined
      return {
        workspace: row.workspace_id,
        settings: settingsOf(row),
        canMessage: row.can_message && row.status === 'connected',
        shop: row.shop,
        withHuman: row.with_human === true,
        disclosed: row.disclosed === true
      }
    },

    async settings (workspace: string): Promise<BotSettings | undefined> {
      const [row] = await db.query<SettingsRow>(`SELECT ${SETTINGS_COLUMNS} FROM workspaces w WHERE w.id = $1`, [workspace])
      return row === undefined ? undefined : settingsOf(row)
    },

    async saveSettings (workspace: string, settings: BotSettings): Promise<void> {
      await db.query(`INSERT INTO workspaces (id, bot_enabled, bot_greeting, bot_max_products, bot_llm, bot_instructions,
          bot_daily_token_budget) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (id) DO UPDATE SET bot_enabled = excluded.bot_enabled, bot_greeting = excluded.bot_greeting,
          bot_max_products = excluded.bot_max_products, bot_llm = excluded.bot_llm,
          bot_instructions = excluded.bot_instructions,
          bot_daily_token_budget = excluded.bot_daily_token_budget`,
      [workspace, settings.enabled, settings.greeting, settings.maxProducts, settings.llm, settings.instructions,
        settings.dailyTokenBudget])
    },

    /** Adds what one model turn spent to the workspace's count for the day of `at` (UTC). */
    async addLlmUsage (workspace: string, at: Date, promptTokens: number, completionTokens: number): Promise<void> {
      await db.query(`INSERT INTO llm_usage (workspace_id, day, prompt_tokens, completion_tokens) VALUES ($1, $2::date, $3, $4)
        ON CONFLICT (workspace_id, day) DO UPDATE SET prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens,
          completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens`,
      [workspace, utcDay(at), promptTokens, completionTokens])
    },

    async llmUsage (workspace: string, at: Date): Promise<LlmUsage> {
      const date = utcDay(at)
      const [row] = await db.query<{ prompt_tokens: string, completion_tokens: string }>(
        'SELECT prompt_tokens::text, completion_tokens::text FROM llm_usage WHERE workspace_id = $1 AND day = $2::date', [workspace, date])
      return { date, promptTokens: Number(row?.prompt_tokens ?? 0), completionTokens: Number(row?.completion_tokens ?? 0) }
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
