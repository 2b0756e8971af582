import type { FastifyInstance } from 'fastify'
import { StoreUnavailableError } from './errors.js'
import type { InboxStore } from './store/inbox.js'

/** What every signed webhook route shares: the exact raw bytes, a JSON check, and the inbox write before the 200. */
export function keepRawJsonBodies (fastify: FastifyInstance, bodyLimit: number) {
  // Scoped to the calling plugin: the raw bytes are needed for the signature, and only there.
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body))
}

/** The body as text when it is JSON; otherwise `NotJson` (a 400). */
export function jsonText (raw: Buffer, NotJson: new () => Error): string {
  const text = raw.toString('utf8')
  try {
    JSON.parse(text)
  } catch {
    throw new NotJson()
  }
  return text
}

/** Stores a verified delivery; if the write fails the answer is 503, so the sender delivers it again. */
export async function storeDelivery (inbox: InboxStore, source: string, body: string): Promise<string> {
  try {
    return await inbox.add(source, body)
  } catch (err) {
    throw new StoreUnavailableError({ cause: err })
  }
}
