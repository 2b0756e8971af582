import createError from '@fastify/error'

/** Refusals several admin routes share. */
export const InvalidCursorError = createError('MSB_INVALID_CURSOR', 'The cursor is not one this API gave out.', 400)
export const NoConversationError = createError('MSB_CONVERSATION_NOT_FOUND', 'This conversation does not exist on this Page.', 404)
