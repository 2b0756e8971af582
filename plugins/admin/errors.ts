import createError from '@fastify/error'

/** Refusals several admin routes share. */
export const InvalidCursorError = createError('MSB_INVALID_CURSOR', 'The cursor is not one this API gave out.', 400)
export { NoConversationError } from '../outbox/person-reply.js'
