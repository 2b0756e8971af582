import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { HandoverEvent, MessengerEvent } from './events.js'

export interface MessengerEmitter extends EventEmitter {
  on (event: 'message', listener: (message: Extract<MessengerEvent, { kind: 'message' }>) => void): this
  on (event: 'handover', listener: (handover: HandoverEvent) => void): this
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the bot plugs in: 'message' once per new message (customer or echo), after it is stored. */
    messenger: MessengerEmitter
  }
}

export default fp(async (fastify) => {
  fastify.decorate('messenger', new EventEmitter() as MessengerEmitter)
}, { name: 'messenger-events', fastify: '5.x' })
