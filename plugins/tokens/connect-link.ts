import type { FastifyInstance } from 'fastify'
import { InvalidLinkError } from '../core/errors.js'
import { type Claims, StateTokenError } from './state-token.js'

/** The workspace and expiry of a connect link, or a 403 that asks for a new link. */
export function verifyConnectLink (fastify: FastifyInstance, link: string | undefined): Claims {
  try {
    return fastify.stateToken.verify(link, 'connect')
  } catch (err) {
    if (err instanceof StateTokenError) throw new InvalidLinkError({ cause: err })
    throw err
  }
}

export function connectPageUrl (link: string, extra: Record<string, string> = {}): string {
  return `/connect?${new URLSearchParams({ link, ...extra })}`
}
