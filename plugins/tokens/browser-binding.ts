import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { randomText } from './random.js'

/**
 * One random secret per sign-in, kept in an HttpOnly cookie. The signed state carries only its SHA-256,
 * so a state replayed in another browser fails; for Facebook the same secret is the PKCE verifier and its
 * hash the code_challenge, so the verifier never leaves the browser's cookie and the token exchange.
 */
export function bindingCookie ({ secure, maxAgeSeconds }: { secure: boolean, maxAgeSeconds: number }) {
  // The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and Path=/.
  const name = secure ? '__Host-oauth_binding' : 'oauth_binding'
  const attributes = { httpOnly: true, sameSite: 'lax', path: '/', secure } as const
  // Written by hand on the hot path: the name is fixed and the value base64url, so nothing needs encoding.
  const setCookieSuffix = `; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`

  return {
    name,
    start (reply: FastifyReply): { secret: string, binding: string } {
      const secret = randomText(32)
      reply.header('set-cookie', `${name}=${secret}${setCookieSuffix}`)
      return { secret, binding: hashOf(secret) }
    },
    clear (reply: FastifyReply) {
      reply.clearCookie(name, attributes)
    },
    /** Clears the cookie and returns its secret when it hashes to `binding`. */
    finish (request: FastifyRequest, reply: FastifyReply, binding: string | undefined): string | undefined {
      reply.clearCookie(name, attributes)
      return this.secretFor(request, binding)
    },
    /** The cookie's secret when it hashes to `binding`. */
    secretFor (request: FastifyRequest, binding: string | undefined): string | undefined {
      const secret = request.cookies[name]
      if (secret === undefined || binding === undefined || secret.length > 128) return undefined
      const actual = Buffer.from(hashOf(secret))
      const expected = Buffer.from(binding)
      return actual.length === expected.length && timingSafeEqual(actual, expected) ? secret : undefined
    }
  }
}

const hashOf = (secret: string) => hash('sha256', secret, 'base64url')
