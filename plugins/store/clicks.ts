import type { Db } from './db.js'

/** Clicks on the links the service sent, and where such a link may lead. */
export function createClickStore (db: Db) {
  return {
    /**
     * The workspace of the Page a link was sent from, when `destination` is on that workspace's shop: its own
     * domain, or the domain of one of its products' pages. Undefined otherwise: the link redirects nowhere.
     */
    async workspaceFor (pageId: string, destination: URL): Promise<string | undefined> {
      if (destination.protocol !== 'https:' || destination.username !== '' || destination.password !== '') return undefined
      const [row] = await db.query<{ workspace_id: string }>(`
        SELECT p.workspace_id FROM pages p JOIN shops s ON s.workspace_id = p.workspace_id
        WHERE p.id = $1 AND (s.shop = $2 OR EXISTS (SELECT 1 FROM products x WHERE x.shop = s.shop AND x.url LIKE $3 LIMIT 1))`,
      [pageId, destination.host, `https://${destination.host.replace(/[%_\\]/g, '\\$&')}/%`])
      return row?.workspace_id
    },

    async record (click: { workspace: string, pageId: string, psid: string, campaignId?: string }): Promise<void> {
      await db.query(`INSERT INTO clicks (workspace_id, page_id, psid, campaign_id)
        VALUES ($1, $2, $3, (SELECT id FROM campaigns WHERE id = $4::bigint AND workspace_id = $1))`,
      [click.workspace, click.pageId, click.psid, click.campaignId ?? null])
    },

    async ofCampaign (campaignId: string): Promise<number> {
      return (await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM clicks WHERE campaign_id = $1::bigint', [campaignId]))[0]!.n
    }
  }
}

export type ClickStore = ReturnType<typeof createClickStore>
