import type { FastifyInstance } from 'fastify'

/** What every signed webhook route shares: the exact raw bytes and a JSON check (the inbox write is the worker's). */
export function keepRawJsonBodies (fastify: FastifyInstance, bodyLimit: number) {
  // Scoped to the calling plugin: the raw bytes are needed for the signature, and only there.
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body))
}

/** The body as text and as the value it parses to, when it is JSON; otherwise `NotJson` (a 400). */
export function jsonBody (raw: Buffer, NotJson: new () => Error): { text: string, value: unknown } {
  const text = raw.toString('utf8')
  try {
    return { text, value: JSON.parse(text) }
  } catch {
    throw new NotJson()
  }
}
