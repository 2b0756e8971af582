import type { Cipher } from './cipher.js'
import type { Db, Queryable } from './db.js'

/** What Shopify's token endpoint hands out: an expiring offline token and the single-use token that renews it. */
export interface ShopTokens {
  accessToken: string
  accessExpiresAt: Date
  refreshToken: string
  refreshExpiresAt: Date | null
  scopes: string[]
}

/**
 * Renews a shop's pair from its refresh token; 'refused' when the grant is gone (Shopify's invalid_grant), so only
 * the shop owner can restore access.
 */
export type RenewTokens = (refreshToken: string) => Promise<ShopTokens | 'refused'>

/** The shop cannot be called: it is not installed, was uninstalled, or needs its owner to connect it again. */
export class ShopUnavailableError extends Error {
  override name = 'ShopUnavailableError'
}

// A token this close to its expiry is renewed before use, so a call never starts with a token about to die.
const RENEW_WITHIN_MS = 5 * 60 * 1000

export interface ShopSummary {
  shop: string
  workspace: string | null
  status: 'connected' | 'needs_reconnect' | 'uninstalled'
  scopes: string[]
  productCount: number
  lastSync: { at: string | null, result: 'running' | 'ok' | 'failed' | null, error: string | null }
}

const SUMMARY = `SELECT s.shop, s.workspace_id, s.status, s.scopes, s.sync_at, s.sync_result, s.sync_error,
  (SELECT count(*) FROM products p WHERE p.shop = s.shop)::integer AS product_count FROM shops s`

type SummaryRow = {
  shop: string,
  workspace_id: string | null,
  status: ShopSummary['status'],
  scopes: string,
  sync_at: Date | null,
  sync_result: ShopSummary['lastSync']['result'],
  sync_error: string | null,
  product_count: number
}

const summary = (row: SummaryRow): ShopSummary => ({
  shop: row.shop,
  workspace: row.workspace_id,
  status: row.status,
  scopes: row.scopes === '' ? [] : row.scopes.split(','),
  productCount: row.product_count,
  lastSync: { at: row.sync_at === null ? null : new Date(row.sync_at).toISOString(), result: row.sync_result, error: row.sync_error }
})

export const shopTokenAad = (key: string) => `shop-token:${key}`

export function createShopStore (db: Db, cipher: Cipher) {
  const renewing = new Map<string, Promise<string>>()

  async function writeTokens (tx: Queryable, shop: string, tokens: ShopTokens) {
    const rows = [
      ['access', tokens.accessToken, tokens.accessExpiresAt],
      ['refresh', tokens.refreshToken, tokens.refreshExpiresAt]
    ] as const
    for (const [kind, token, expiresAt] of rows) {
      const sealed = cipher.seal(token, shopTokenAad(`${shop}:${kind}`))
      await tx.query(`INSERT INTO shop_tokens (shop, kind, token_ciphertext, token_key_id, expires_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (shop, kind) DO UPDATE SET token_ciphertext = excluded.token_ciphertext, token_key_id = excluded.token_key_id,
          expires_at = excluded.expires_at`, [shop, kind, sealed.ciphertext, sealed.keyId, expiresAt])
    }
    await tx.query("UPDATE shops SET scopes = $2, status = 'connected', updated_at = now() WHERE shop = $1",
      [shop, tokens.scopes.join(',')])
  }

  async function readTokens (tx: Queryable, shop: string) {
    type TokenRow = { status: string, kind: 'access' | 'refresh', token_ciphertext: string, token_key_id: string, expires_at: Date | null }
    const rows = await tx.query<TokenRow>(`
      SELECT s.status, t.kind, t.token_ciphertext, t.token_key_id, t.expires_at FROM shops s JOIN shop_tokens t USING (shop)
      WHERE s.shop = $1`, [shop])
    const token = (kind: 'access' | 'refresh') => {
      const row = rows.find(r => r.kind === kind)
      if (row === undefined) return undefined
      const token = cipher.open({ ciphertext: row.token_ciphertext, keyId: row.token_key_id }, shopTokenAad(`${shop}:${kind}`))
      return { token, expiresAt: row.expires_at }
    }
    return { status: rows[0]?.status, access: token('access'), refresh: token('refresh') }
  }

  const fresh = (access: { expiresAt: Date | null } | undefined, now: number) =>
    access !== undefined && (access.expiresAt === null || new Date(access.expiresAt).getTime() - now > RENEW_WITHIN_MS)

  /**
   * Renews under the shop row's lock: a refresh token is single-use, so one replica renews while the others
   * wait and then find the new pair, which is stored in the same transaction before anyone uses it.
   */
  async function renew (shop: string, refresh: RenewTokens, now: () => number): Promise<string> {
    const token = await db.transaction(async tx => {
      // The lock first, the read after it: a statement that waited for a lock still sees the snapshot it began
      // with, so a joined read would miss the tokens the replica that held the lock just stored.
      await tx.query('SELECT 1 FROM shops WHERE shop = $1 FOR UPDATE', [shop])
      const current = await readTokens(tx, shop)
      if (current.status !== 'connected' || current.refresh === undefined) throw new ShopUnavailableError(`shop ${shop} is not connected`)
      if (fresh(current.access, now())) return current.access!.token
      const tokens = await refresh(current.refresh.token)
      if (tokens === 'refused') {
        await tx.query("UPDATE shops SET status = 'needs_reconnect', updated_at = now() WHERE shop = $1", [shop])
        return undefined
      }
      await writeTokens(tx, shop, tokens)
      return tokens.accessToken
    })
    if (token === undefined) throw new ShopUnavailableError(`shop ${shop} needs its owner to connect it again`)
    return token
  }

  return {
    /** Records an install (or a reinstall) with its tokens; a workspace given takes the shop, replacing its previous one. */
    /** Returns the workspace the shop belongs to now: the one given, the one it had, or null (not assigned yet). */
    async saveInstall (shop: string, workspace: string | null, tokens: ShopTokens): Promise<string | null> {
      return db.transaction(async tx => {
        if (workspace !== null) {
          await tx.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT DO NOTHING', [workspace])
          await tx.query('UPDATE shops SET workspace_id = NULL WHERE workspace_id = $1 AND shop <> $2', [workspace, shop])
        }
        const [row] = await tx.query<{ workspace_id: string | null }>(`INSERT INTO shops (shop, workspace_id) VALUES ($1, $2)
          ON CONFLICT (shop) DO UPDATE SET workspace_id = coalesce(excluded.workspace_id, shops.workspace_id)
          RETURNING workspace_id`, [shop, workspace])
        await writeTokens(tx, shop, tokens)
        return row!.workspace_id
      })
    },

    /**
     * The access token for an Admin API call, renewed first when it expires within 5 minutes: single-flight
     * in this process (concurrent callers share one renewal) and across replicas (the row lock).
     */
    async accessToken (shop: string, refresh: RenewTokens, now: () => number = Date.now): Promise<string> {
      const current = await readTokens(db, shop)
      if (current.status !== 'connected') throw new ShopUnavailableError(`shop ${shop} is not connected`)
      if (fresh(current.access, now())) return current.access!.token
      let pending = renewing.get(shop)
      if (pending === undefined) {
        pending = renew(shop, refresh, now).finally(() => renewing.delete(shop))
        renewing.set(shop, pending)
      }
      return pending
    },

    /** A 401 with a just-renewed token: the grant is gone, so the shop waits for its owner. */
    async markNeedsReconnect (shop: string): Promise<void> {
      await db.query("UPDATE shops SET status = 'needs_reconnect', updated_at = now() WHERE shop = $1", [shop])
    },

    async list (): Promise<ShopSummary[]> {
      return (await db.query<SummaryRow>(`${SUMMARY} ORDER BY s.shop`)).map(summary)
    },

    async ofWorkspace (workspace: string): Promise<ShopSummary | undefined> {
      const [row] = await db.query<SummaryRow>(`${SUMMARY} WHERE s.workspace_id = $1`, [workspace])
      return row === undefined ? undefined : summary(row)
    },

    /** Just the name of the workspace's shop: the search path, which must not count the catalog on every call. */
    async nameOf (workspace: string): Promise<string | undefined> {
      return (await db.query<{ shop: string }>('SELECT shop FROM shops WHERE workspace_id = $1', [workspace]))[0]?.shop
    },

    /** Gives an installed shop to `workspace` (from wherever it was); false when no such shop is installed. */
    async assign (shop: string, workspace: string): Promise<boolean> {
      return db.transaction(async tx => {
        if ((await tx.query('SELECT 1 FROM shops WHERE shop = $1 FOR UPDATE', [shop])).length === 0) return false
        await tx.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT DO NOTHING', [workspace])
        await tx.query('UPDATE shops SET workspace_id = NULL WHERE workspace_id = $1 AND shop <> $2', [workspace, shop])
        await tx.query('UPDATE shops SET workspace_id = $2, updated_at = now() WHERE shop = $1', [shop, workspace])
        return true
      })
    },

    /** Forgets the workspace's shop: the shop, its tokens and its catalog; the owner connects it again to use it. */
    async forget (workspace: string): Promise<string | undefined> {
      return (await db.query<{ shop: string }>('DELETE FROM shops WHERE workspace_id = $1 RETURNING shop', [workspace]))[0]?.shop
    },

    /** app/uninstalled: the tokens are deleted and the shop kept, marked uninstalled, until the owner installs again. */
    async uninstall (shop: string): Promise<void> {
      await db.transaction(async tx => {
        await tx.query('DELETE FROM shop_tokens WHERE shop = $1', [shop])
        await tx.query("UPDATE shops SET status = 'uninstalled', updated_at = now() WHERE shop = $1", [shop])
      })
    },

    /** shop/redact: every row of the shop (tokens, catalog, its assignment and its webhook records). */
    async erase (shop: string): Promise<void> {
      await db.transaction(async tx => {
        await tx.query('DELETE FROM shops WHERE shop = $1', [shop])
        await tx.query('DELETE FROM shopify_webhooks WHERE shop = $1', [shop])
        await tx.query('DELETE FROM attributed_orders WHERE shop = $1', [shop])
      })
    },

    async status (shop: string): Promise<string | undefined> {
      return (await db.query<{ status: string }>('SELECT status FROM shops WHERE shop = $1', [shop]))[0]?.status
    }
  }
}

export type ShopStore = ReturnType<typeof createShopStore>
