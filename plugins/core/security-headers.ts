import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import { STYLE_HASH } from './html.js'

/**
 * Exactly the headers helmet sends, computed once at startup: helmet's middleware recomputes the
 * same static values on every request, and the login redirect is the service's hot path.
 */
export function securityHeaders (formAction: string[] = []): Record<string, string> {
  const headers: Record<string, string> = {}
  const collect = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { delete headers[name.toLowerCase()] }
  }
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: [STYLE_HASH],
        imgSrc: ["'self'"],
        formAction: ["'self'", ...formAction],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"]
      }
    },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' }
  })
  middleware({} as IncomingMessage, collect as unknown as ServerResponse, () => {})
  return headers
}

export default fp(async (fastify) => {
  const headers = securityHeaders()
  // A callback hook, not an async one: it runs on every request and has nothing to wait for.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers)
    reply.header('x-request-id', request.id)
    done()
  })
}, { name: 'security-headers', fastify: '5.x' })
