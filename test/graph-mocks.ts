import { createHmac } from 'node:crypto'
import type { MockAgent } from 'undici'
import { APP_SECRET, GRAPH } from './helper.js'

export const USER = { id: '900000000000042', name: 'Ada Owner' }
export const PAGES = [
  { id: '104000000000001', name: 'Corner Bakery', category: 'Bakery', tasks: ['MESSAGING', 'MANAGE'] },
  { id: '104000000000002', name: 'Outlet', category: 'Shop', tasks: ['MESSAGING'] },
  { id: '104000000000003', name: 'Fan Club', category: 'Community', tasks: ['ANALYZE'] },
  { id: '104000000000004', name: 'Stall <b>', category: 'Food', tasks: ['MESSAGING'] },
  { id: '104000000000005', name: 'Lab', tasks: ['MESSAGING'] }
]
export const LONG_TOKEN = 'EAAlong-lived-user-token'

export interface Seen { path: string, query: URLSearchParams }

/**
 * A Graph that answers the whole callback: code -> short token -> long token -> me, permissions ->
 * accounts in pages of two. `overrides` replaces the answer of one step. Every request is recorded in `seen`.
 */
export function mockCallbackGraph (agent: MockAgent, options: {
  granted?: string[]
  overrides?: Partial<Record<'code' | 'exchange' | 'me' | 'permissions' | 'accounts', { status: number, body: unknown, delay?: number }>>
  delay?: number
} = {}) {
  const seen: Seen[] = []
  const pool = agent.get(GRAPH)
  const granted = options.granted ?? ['pages_show_list', 'pages_messaging', 'pages_manage_metadata', 'public_profile']
  const proof = createHmac('sha256', APP_SECRET).update(LONG_TOKEN).digest('hex')

  const step = (name: 'code' | 'exchange' | 'me' | 'permissions' | 'accounts', path: (p: string) => boolean, answer: (q: URLSearchParams) => unknown, times = 1) => {
    const override = options.overrides?.[name]
    const reply = pool.intercept({ path }).reply(({ path: p }) => {
      const query = new URL(p, GRAPH).searchParams
      seen.push({ path: p.split('?')[0]!, query })
      if (override !== undefined) return { statusCode: override.status, data: typeof override.body === 'string' ? override.body : JSON.stringify(override.body) }
      return { statusCode: 200, data: JSON.stringify(answer(query)) }
    })
    const delay = override?.delay ?? options.delay
    if (delay !== undefined) reply.delay(delay)
    if (times > 1) reply.times(times)
  }
  const is = (prefix: string, test: (q: URLSearchParams) => boolean = () => true) =>
    (p: string) => p.startsWith(`/v26.0${prefix}?`) && test(new URL(p, GRAPH).searchParams)

  step('code', is('/oauth/access_token', q => q.has('code')), () => ({ access_token: 'EAAshort-lived', token_type: 'bearer', expires_in: 5400 }))
  step('exchange', is('/oauth/access_token', q => q.get('grant_type') === 'fb_exchange_token'), () => ({ access_token: LONG_TOKEN, token_type: 'bearer' }))
  step('me', is('/me', q => q.get('appsecret_proof') === proof), () => USER)
  step('permissions', is('/me/permissions', q => q.get('appsecret_proof') === proof),
    () => ({ data: granted.map(permission => ({ permission, status: 'granted' })) }))
  step('accounts', is('/me/accounts', q => q.get('appsecret_proof') === proof), q => {
    const start = Number(q.get('after') ?? 0)
    const data = PAGES.slice(start, start + 2).map(page => ({ ...page, access_token: `EAApage-${page.id}` }))
    const after = String(start + 2)
    return {
      data,
      paging: { cursors: { after }, ...(start + 2 < PAGES.length ? { next: `https://evil.test/v26.0/me/accounts?access_token=x&after=${after}` } : {}) }
    }
  }, options.overrides?.accounts === undefined ? 3 : 1)
  return seen
}
