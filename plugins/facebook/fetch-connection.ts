import { Type } from '@sinclair/typebox'
import type { Config } from '../core/config.js'
import { csvList } from '../core/config.js'
import { plainText } from '../core/plain-text.js'
import type { ConnectedPage } from '../store/pages.js'
import { CodeRejectedError, FacebookFailedError, FacebookTimeoutError } from './errors.js'
import { GraphError, GraphTimeoutError, type GraphClient } from './graph.js'

const AccessToken = Type.Object({ access_token: Type.String({ minLength: 1 }) })
const Me = Type.Object({ id: Type.String({ minLength: 1 }), name: Type.String() })
const Permissions = Type.Object({
  data: Type.Array(Type.Object({ permission: Type.String(), status: Type.String() }))
})
const Accounts = Type.Object({
  data: Type.Array(Type.Object({
    id: Type.String({ pattern: '^[0-9]{1,32}$' }),
    name: Type.String(),
    category: Type.Optional(Type.String()),
    tasks: Type.Optional(Type.Array(Type.String())),
    access_token: Type.String({ minLength: 1 })
  })),
  paging: Type.Optional(Type.Object({
    cursors: Type.Optional(Type.Object({ after: Type.Optional(Type.String()) })),
    next: Type.Optional(Type.String())
  }))
})

// 100 Pages a request: a user with more than 5,000 Pages gets the first 5,000.
const MAX_ACCOUNT_REQUESTS = 50

export interface FacebookConnection {
  user: { id: string, name: string, accessToken: string, grantedPermissions: string[] }
  pages: ConnectedPage[]
  missingPermissions: string[]
}

function upstreamError (err: unknown): Error {
  return err instanceof GraphTimeoutError ? new FacebookTimeoutError({ cause: err }) : new FacebookFailedError({ cause: err })
}

/**
 * Code -> short-lived token -> long-lived token -> (user, permissions, every Page), within `signal`'s deadline.
 * Only the code exchange can be the client's fault (a used or expired code); every later refusal is Facebook's.
 */
export async function fetchConnection (
  graph: GraphClient, config: Config, code: string, codeVerifier: string, signal: AbortSignal
): Promise<FacebookConnection> {
  const app = { client_id: config.FACEBOOK_APP_ID, client_secret: config.FACEBOOK_APP_SECRET }
  let shortLived: string
  try {
    shortLived = (await graph.get('/oauth/access_token', {
      params: { ...app, redirect_uri: config.FACEBOOK_REDIRECT_URI, code, code_verifier: codeVerifier },
      schema: AccessToken,
      signal
    })).access_token
  } catch (err) {
    if (err instanceof GraphError && err.status >= 400 && err.status < 500) throw new CodeRejectedError({ cause: err })
    throw upstreamError(err)
  }

  try {
    const { access_token: token } = await graph.get('/oauth/access_token', {
      params: { ...app, grant_type: 'fb_exchange_token', fb_exchange_token: shortLived },
      schema: AccessToken,
      signal
    })
    // Each needs only the long-lived token, so none waits for another; once one fails the callback has failed,
    // so the others are cancelled instead of running on to the deadline.
    const abandon = new AbortController()
    const together = AbortSignal.any([signal, abandon.signal])
    const cancelOthersOnFailure = <T>(call: Promise<T>) => call.catch((err: unknown) => { abandon.abort(); throw err })
    const [me, permissions, pages] = await Promise.all([
      cancelOthersOnFailure(graph.get('/me', { params: { fields: 'id,name' }, token, schema: Me, signal: together })),
      cancelOthersOnFailure(graph.get('/me/permissions', { token, schema: Permissions, signal: together })),
      cancelOthersOnFailure(fetchPages(graph, token, together))
    ])
    const granted = new Set(permissions.data.filter(p => p.status === 'granted').map(p => p.permission))
    // Messaging takes both: the MESSAGING task on the Page and the pages_messaging permission for the app.
    const messaging = granted.has('pages_messaging')
    return {
      user: { id: me.id, name: plainText(me.name), accessToken: token, grantedPermissions: [...granted].sort() },
      pages: pages.map(page => ({ ...page, canMessage: page.canMessage && messaging })),
      missingPermissions: csvList(config.FACEBOOK_SCOPES).filter(scope => !granted.has(scope))
    }
  } catch (err) {
    throw upstreamError(err)
  }
}

/**
 * Follows `paging.next` by its `after` cursor on our own Graph origin: the URL Graph returns embeds the
 * token, and we never send a token to a host taken from a response.
 */
async function fetchPages (graph: GraphClient, token: string, signal: AbortSignal): Promise<ConnectedPage[]> {
  const pages = new Map<string, ConnectedPage>()
  let after: string | undefined
  for (let request = 0; request < MAX_ACCOUNT_REQUESTS; request++) {
    const params: Record<string, string> = { fields: 'id,name,category,tasks,access_token', limit: '100' }
    if (after !== undefined) params.after = after
    const answer = await graph.get('/me/accounts', { params, token, schema: Accounts, signal })
    for (const page of answer.data) {
      const tasks = page.tasks ?? []
      const canMessage = tasks.includes('MESSAGING')
      const name = plainText(page.name)
      pages.set(page.id, { id: page.id, name, category: plainText(page.category ?? ''), tasks, canMessage, accessToken: page.access_token })
    }
    const next = answer.paging?.next
    const fromNext = next !== undefined && URL.canParse(next) ? new URL(next).searchParams.get('after') : null
    after = next === undefined ? undefined : fromNext ?? answer.paging?.cursors?.after
    if (after === undefined) break
  }
  return [...pages.values()]
}
