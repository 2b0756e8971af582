import type { Db } from './db.js'

/** Numbered, append-only: a released migration is never edited, a change is a new entry. */
export const MIGRATIONS: ReadonlyArray<{ version: number, sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE workspaces (
        id text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE facebook_users (
        id text PRIMARY KEY,
        name text NOT NULL,
        token_ciphertext text NOT NULL,
        token_key_id text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE pages (
        id text PRIMARY KEY,
        workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        name text NOT NULL,
        category text NOT NULL,
        tasks jsonb NOT NULL,
        can_message boolean NOT NULL,
        status text NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'needs_reconnect')),
        connected_by text NOT NULL REFERENCES facebook_users (id),
        token_ciphertext text NOT NULL,
        token_key_id text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX pages_workspace_idx ON pages (workspace_id);
    `
  },
  {
    version: 2,
    sql: `
      CREATE TABLE inbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source text NOT NULL,
        body text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        parked_at timestamptz,
        last_error text
      );
      CREATE INDEX inbox_pending_idx ON inbox (next_attempt_at) WHERE processed_at IS NULL AND parked_at IS NULL;
    `
  },
  {
    version: 3,
    sql: `
      CREATE TABLE conversations (
        page_id text NOT NULL,
        psid text NOT NULL,
        first_message_at timestamptz,
        last_customer_message_at timestamptz,
        PRIMARY KEY (page_id, psid)
      );
      CREATE INDEX conversations_recent_idx ON conversations (page_id, last_customer_message_at DESC, psid DESC);
      CREATE TABLE messages (
        mid text PRIMARY KEY,
        page_id text NOT NULL,
        psid text NOT NULL,
        direction text NOT NULL CHECK (direction IN ('in', 'out')),
        text text NOT NULL,
        at timestamptz NOT NULL
      );
      CREATE INDEX messages_conversation_idx ON messages (page_id, psid, at DESC);
      CREATE TABLE messenger_events (
        key text PRIMARY KEY,
        kind text NOT NULL,
        page_id text NOT NULL,
        psid text,
        at timestamptz NOT NULL DEFAULT now()
      );
    `
  },
  {
    version: 4,
    sql: 'ALTER TABLE pages ADD COLUMN subscribed boolean NOT NULL DEFAULT false'
  },
  {
    version: 5,
    sql: `
      CREATE TABLE page_connections (
        page_id text NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES facebook_users (id) ON DELETE CASCADE,
        PRIMARY KEY (page_id, user_id)
      );
      INSERT INTO page_connections (page_id, user_id) SELECT id, connected_by FROM pages;
      ALTER TABLE pages ALTER COLUMN token_ciphertext DROP NOT NULL, ALTER COLUMN token_key_id DROP NOT NULL;
      CREATE TABLE data_deletions (
        confirmation_code text PRIMARY KEY,
        status text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now()
      );
    `
  },
  {
    version: 6,
    sql: `
      CREATE TABLE notification_tokens (
        page_id text NOT NULL,
        psid text NOT NULL,
        token_ciphertext text NOT NULL,
        token_key_id text NOT NULL,
        frequency text NOT NULL,
        expires_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (page_id, psid)
      );
    `
  },
  {
    version: 7,
    // The worker takes due items in the index's order, so a claim reads its batch and stops, whatever the backlog.
    sql: `
      DROP INDEX inbox_pending_idx;
      CREATE INDEX inbox_due_idx ON inbox (next_attempt_at, id) WHERE processed_at IS NULL AND parked_at IS NULL;
    `
  },
  {
    version: 8,
    // A workspace has at most one shop; a shop installed from Shopify itself has none until it is assigned.
    sql: `
      CREATE TABLE shops (
        shop text PRIMARY KEY,
        workspace_id text UNIQUE REFERENCES workspaces (id) ON DELETE SET NULL,
        status text NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'needs_reconnect', 'uninstalled')),
        scopes text NOT NULL DEFAULT '',
        installed_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE shop_tokens (
        shop text NOT NULL REFERENCES shops (shop) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('access', 'refresh')),
        token_ciphertext text NOT NULL,
        token_key_id text NOT NULL,
        expires_at timestamptz,
        PRIMARY KEY (shop, kind)
      );
    `
  },
  {
    version: 9,
    // Weighted full-text search the same on PGlite and PostgreSQL: title first, then type, vendor and tags, then
    // the description. 'english' stems, so "boots" finds "Boot".
    sql: `
      ALTER TABLE shops ADD COLUMN sync_result text CHECK (sync_result IN ('running', 'ok', 'failed')),
        ADD COLUMN sync_at timestamptz, ADD COLUMN sync_error text;
      CREATE TABLE products (
        shop text NOT NULL REFERENCES shops (shop) ON DELETE CASCADE,
        id text NOT NULL,
        title text NOT NULL,
        handle text NOT NULL,
        description text NOT NULL,
        product_type text NOT NULL,
        vendor text NOT NULL,
        tags text NOT NULL,
        url text,
        image_url text,
        min_price numeric NOT NULL,
        max_price numeric NOT NULL,
        currency text NOT NULL,
        variants jsonb NOT NULL,
        lowest_available_price numeric,
        updated_at timestamptz NOT NULL,
        seen_at timestamptz NOT NULL,
        search tsvector GENERATED ALWAYS AS (
          setweight(to_tsvector('english', title), 'A') ||
          setweight(to_tsvector('english', product_type || ' ' || vendor || ' ' || tags), 'B') ||
          setweight(to_tsvector('english', description), 'C')
        ) STORED,
        PRIMARY KEY (shop, id)
      );
      CREATE INDEX products_search_idx ON products USING GIN (search);
    `
  },
  {
    version: 10,
    // The inbox now has a queue per source; each worker reads its own in order.
    sql: `
      DROP INDEX inbox_due_idx;
      CREATE INDEX inbox_due_idx ON inbox (source, next_attempt_at, id) WHERE processed_at IS NULL AND parked_at IS NULL;
      CREATE TABLE shopify_webhooks (
        webhook_id text PRIMARY KEY,
        shop text NOT NULL,
        topic text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );
    `
  },
  {
    version: 11,
    // How many messages a conversation keeps, so only those past the limit are trimmed. A processed item now
    // leaves the inbox, so every row is unprocessed: processed_at and the rows it flagged go.
    sql: `
      ALTER TABLE conversations ADD COLUMN message_count integer NOT NULL DEFAULT 0;
      UPDATE conversations c SET message_count = (SELECT count(*) FROM messages m WHERE m.page_id = c.page_id AND m.psid = c.psid);
      DELETE FROM inbox WHERE processed_at IS NOT NULL;
      DROP INDEX inbox_due_idx;
      ALTER TABLE inbox DROP COLUMN processed_at;
      CREATE INDEX inbox_due_idx ON inbox (source, next_attempt_at, id) WHERE parked_at IS NULL;
    `
  },
  {
    version: 12,
    // Delivery keys are forgotten by age (the store's forgetDeliveryKeys).
    sql: `
      CREATE INDEX messenger_events_at_idx ON messenger_events (at);
      CREATE INDEX shopify_webhooks_received_at_idx ON shopify_webhooks (received_at);
    `
  },
  {
    version: 13,
    // When the stored notification token was opted in, so an older opt-in replayed cannot replace it.
    sql: `
      ALTER TABLE notification_tokens ADD COLUMN opted_in_at timestamptz;
    `
  },
  {
    version: 14,
    // Everything the service sends is stored before it is sent. A row is claimed (sending, leased) before its call;
    // a row whose call got no answer is unknown and never sent again. dedupe_key makes "queue it" idempotent.
    sql: `
      CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dedupe_key text NOT NULL UNIQUE,
        page_id text NOT NULL,
        psid text NOT NULL,
        source text NOT NULL CHECK (source IN ('bot', 'human', 'campaign')),
        message jsonb NOT NULL,
        messaging_type text,
        tag text CHECK (tag IS NULL OR tag = 'HUMAN_AGENT'),
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'unknown')),
        attempts integer NOT NULL DEFAULT 0,
        error text,
        message_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        sent_at timestamptz
      );
      CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE status = 'queued';
      CREATE INDEX outbox_conversation_idx ON outbox (page_id, psid, id) WHERE status IN ('queued', 'sending');
      CREATE INDEX outbox_sending_idx ON outbox (lease_until) WHERE status = 'sending';
      CREATE INDEX outbox_page_idx ON outbox (page_id, id);
      ALTER TABLE conversations ADD COLUMN unreachable boolean NOT NULL DEFAULT false;
      ALTER TABLE pages ADD COLUMN sends_paused_until timestamptz;
    `
  },
  {
    version: 15,
    // The bot: per workspace settings, and per conversation whether a person has it, whether the customer opted out of
    // promotions, and whether the bot has said it is one since the conversation began or was handed back.
    sql: `
      ALTER TABLE workspaces ADD COLUMN bot_enabled boolean NOT NULL DEFAULT true;
      ALTER TABLE workspaces ADD COLUMN bot_greeting text;
      ALTER TABLE workspaces ADD COLUMN bot_max_products integer NOT NULL DEFAULT 5;
      ALTER TABLE conversations ADD COLUMN with_human boolean NOT NULL DEFAULT false;
      ALTER TABLE conversations ADD COLUMN opted_out boolean NOT NULL DEFAULT false;
      ALTER TABLE conversations ADD COLUMN disclosed boolean NOT NULL DEFAULT false;
    `
  },
  {
    version: 16,
    // The outbox also carries a conversation's hand-over to the Page Inbox, so it follows the notice on any replica.
    // One sender at a time holds a Page (a lease), so the Page's rate holds for the whole deployment. A Page keeps the
    // webhook fields it was last subscribed with (older Pages are subscribed again with new ones), and a user what
    // they granted (NULL: connected before this was kept).
    sql: `
      ALTER TABLE outbox ADD COLUMN action text NOT NULL DEFAULT 'message' CHECK (action IN ('message', 'pass_thread_control'));
      ALTER TABLE pages ADD COLUMN sender_id text;
      ALTER TABLE pages ADD COLUMN sender_lease_until timestamptz;
      ALTER TABLE pages ADD COLUMN subscribed_fields text;
      ALTER TABLE facebook_users ADD COLUMN granted_permissions jsonb;
    `
  },
  {
    version: 17,
    // The LLM per workspace: on or off (NULL: on when the service has one), the owner's instructions, a daily token
    // budget; and the tokens spent per workspace and UTC day, as the model's server counted them.
    sql: `
      ALTER TABLE workspaces ADD COLUMN bot_llm boolean;
      ALTER TABLE workspaces ADD COLUMN bot_instructions text NOT NULL DEFAULT '';
      ALTER TABLE workspaces ADD COLUMN bot_daily_token_budget integer CHECK (bot_daily_token_budget > 0);
      CREATE TABLE llm_usage (
        workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        day date NOT NULL,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, day)
      );
    `
  },
  {
    version: 18,
    // Campaigns: a promotion's recipients are outbox rows (source campaign) keyed by campaign, Page and customer, so
    // each person gets it at most once; the campaign's status decides whether its rows may be sent.
    sql: `
      CREATE TABLE campaigns (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        name text NOT NULL,
        text text NOT NULL,
        product_ids jsonb NOT NULL DEFAULT '[]',
        page_ids jsonb,
        audience_hours integer NOT NULL DEFAULT 24 CHECK (audience_hours BETWEEN 1 AND 24),
        discount_code text,
        status text NOT NULL DEFAULT 'draft'
          CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'finished', 'cancelled')),
        scheduled_at timestamptz,
        started_at timestamptz,
        finished_at timestamptz,
        total integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX campaigns_workspace_idx ON campaigns (workspace_id, id);
      CREATE INDEX campaigns_due_idx ON campaigns (scheduled_at) WHERE status = 'scheduled';
      ALTER TABLE outbox ADD COLUMN campaign_id bigint REFERENCES campaigns (id) ON DELETE CASCADE;
      ALTER TABLE outbox ADD COLUMN campaign_part smallint;
      CREATE INDEX outbox_campaign_idx ON outbox (campaign_id, status) WHERE campaign_id IS NOT NULL;
    `
  },
  {
    version: 19,
    // A click on a link the service sent: whose conversation, which campaign (none for a reply), when. Nothing else.
    sql: `
      CREATE TABLE clicks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        page_id text NOT NULL,
        psid text NOT NULL,
        campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
        at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX clicks_workspace_idx ON clicks (workspace_id, at);
      CREATE INDEX clicks_campaign_idx ON clicks (campaign_id) WHERE campaign_id IS NOT NULL;
    `
  },
  {
    version: 20,
    // What the analytics count that the rest does not keep: customers' messages per Page and UTC day (a conversation
    // keeps only its last 20), and orders attributed to a conversation (the order's id, total, currency and time:
    // nothing of the customer).
    sql: `
      CREATE TABLE daily_activity (
        page_id text NOT NULL,
        day date NOT NULL,
        customer_messages integer NOT NULL DEFAULT 0,
        PRIMARY KEY (page_id, day)
      );
      CREATE TABLE attributed_orders (
        shop text NOT NULL,
        order_id text NOT NULL,
        workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        page_id text NOT NULL,
        psid text NOT NULL,
        campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
        total numeric NOT NULL,
        currency text NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (shop, order_id)
      );
      CREATE INDEX attributed_orders_workspace_idx ON attributed_orders (workspace_id, at);
      CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE status = 'sent';
      CREATE INDEX conversations_first_idx ON conversations (first_message_at);
    `
  },
  {
    version: 21,
    // When a claimed row's call began: a row claimed but still waiting for its Page's rate slot when its process died
    // was never sent, and goes back to the queue; only one whose call had begun may have reached Meta (unknown).
    sql: `
      ALTER TABLE outbox ADD COLUMN called_at timestamptz;
    `
  },
  {
    version: 22,
    // A Page's queue in the order the sender claims it (replies before campaigns), so a claim reads only the rows it
    // takes however many a campaign queued; the analytics' share of the outbox apart from the campaigns'; and the
    // conversations started, counted per day as they are stored rather than read from every conversation.
    sql: `
      CREATE INDEX outbox_page_queue_idx ON outbox (page_id, (source = 'campaign'), next_attempt_at, id) WHERE status = 'queued';
      -- What the analytics count of the outbox (the bot's replies and hand-overs), without the campaigns' many rows.
      CREATE INDEX outbox_bot_sent_idx ON outbox (page_id, sent_at)
        WHERE status = 'sent' AND ((source = 'bot' AND action = 'message') OR action = 'pass_thread_control');
      ALTER TABLE daily_activity ADD COLUMN conversations_started integer NOT NULL DEFAULT 0;
      INSERT INTO daily_activity (page_id, day, conversations_started)
      SELECT page_id, (first_message_at AT TIME ZONE 'UTC')::date, count(*) FROM conversations
      WHERE first_message_at IS NOT NULL GROUP BY 1, 2
      ON CONFLICT (page_id, day) DO UPDATE SET conversations_started = excluded.conversations_started;
    `
  }
]

// An arbitrary constant shared by every replica, so concurrent starts migrate one at a time.
const MIGRATION_LOCK_KEY = 727_274_001

export async function migrate (db: Db): Promise<number[]> {
  return db.transaction(async tx => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    const applied = new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map(row => row.version))
    const ran: number[] = []
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue
      await tx.exec(migration.sql)
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version])
      ran.push(migration.version)
    }
    return ran
  })
}
