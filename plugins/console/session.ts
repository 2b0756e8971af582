import type { FastifyReply, FastifyRequest } from 'fastify'
import type { StateTokens } from '../tokens/state-token.js'
import { StateTokenError } from '../tokens/state-token.js'

export const SESSION_SECONDS = 12 * 60 * 60

export interface ConsoleSession {
  workspace: string
  /** the session's own random part: CSRF tokens are bound to it, so one session's token is worthless in another */
  nonce: string
}

/** The cookie names: with https, `__Host-` (Secure, path /, no Domain) so no sibling host can set or shadow them. */
export function cookieNames (secure: boolean) {
  const prefix = secure ? '__Host-' : ''
  return { session: `${prefix}msb_console`, csrf: `${prefix}msb_csrf` }
}

export const cookieOptions = (secure: boolean) => ({ path: '/', httpOnly: true, sameSite: 'lax' as const, secure })

/** Starts a session for `workspace`: a signed token (the state token's format, kind `console`) in an HttpOnly cookie. */
export function startSession (tokens: StateTokens, reply: FastifyReply, workspace: string, secure: boolean): void {
  const token = tokens.issue('console', workspace, { ttlSeconds: SESSION_SECONDS })
  reply.setCookie(cookieNames(secure).session, token, { ...cookieOptions(secure), maxAge: SESSION_SECONDS })
}

/** The request's session, or undefined when it has none that verifies (absent, tampered, expired). */
export function sessionOf (tokens: StateTokens, request: FastifyRequest, secure: boolean): ConsoleSession | undefined {
  const token = request.cookies[cookieNames(secure).session]
  if (token === undefined) return undefined
  try {
    const claims = tokens.verify(token, 'console')
    return { workspace: claims.workspace, nonce: claims.nonce }
  } catch (err) {
    if (err instanceof StateTokenError) return undefined
    throw err
  }
}
