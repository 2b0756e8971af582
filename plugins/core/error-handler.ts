import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { PUBLIC_CODE_PREFIX } from './errors.js'
import { escapeHtml, renderPage, wantsHtml } from './html.js'

export interface ErrorHandlerOptions {
  /** Errors of the layers below HTTP (the store's, say) given their HTTP form; undefined leaves the error as it is. */
  translate?: (error: Error) => FastifyError | undefined
}

function sendError (request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string) {
  const error = STATUS_CODES[statusCode] ?? 'Error'
  if (wantsHtml(request.headers.accept)) {
    const body = `<p>${escapeHtml(message)}</p><p class="muted">Request id: <code>${escapeHtml(request.id)}</code></p>`
    return reply.code(statusCode).type('text/html; charset=utf-8').send(renderPage(error, body))
  }
  return reply.code(statusCode).send({ statusCode, error, message, requestId: request.id })
}

/**
 * Every error and every unknown route end here: `{statusCode, error, message, requestId}` (a page for browsers).
 * 4xx carry their message; a 5xx carries its own only when it was written for people (MSB_ codes).
 */
export default fp<ErrorHandlerOptions>(async (fastify, { translate = () => undefined }) => {
  fastify.setErrorHandler((raw: FastifyError, request, reply) => {
    const error = translate(raw) ?? raw
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    const writtenForPeople = error.code?.startsWith(PUBLIC_CODE_PREFIX) === true
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code: error.code, statusCode }, 'request refused')
    const message = writtenForPeople || statusCode < 500 ? error.message : 'Something went wrong on our side. Please try again later.'
    return sendError(request, reply, statusCode, message)
  })
  // Fastify's default 404 names the method and URL, query and all.
  fastify.setNotFoundHandler((request, reply) => sendError(request, reply, 404, 'Not found.'))
}, { name: 'error-handler', fastify: '5.x' })

const EARLY_MESSAGES: Record<number, string> = {
  400: 'The request is malformed.',
  408: 'The request took too long to arrive.',
  414: 'A part of the request URL is too long.',
  431: 'The request headers are too large.'
}

/**
 * Fastify's own refusals before routing (a malformed URL, an overlong parameter) skip every hook: these put back
 * the security headers and the request id, in the shape of every other error, without echoing the URL.
 */
export function frameworkErrorHandler (headers: Record<string, string>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const statusCode = error.statusCode === 414 ? 414 : 400
    request.log.info({ code: error.code, statusCode }, 'request refused')
    reply.headers(headers).header('x-request-id', request.id)
    return sendError(request, reply, statusCode, EARLY_MESSAGES[statusCode]!)
  }
}

/** The same for what Node's parser refuses before Fastify sees a request (oversized headers, a timeout, garbage). */
export function clientErrorHandler (headers: Record<string, string>) {
  return (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const statusCode = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    const requestId = randomUUID()
    const body = JSON.stringify({ statusCode, error: STATUS_CODES[statusCode], message: EARLY_MESSAGES[statusCode], requestId })
    const lines = Object.entries({ ...headers, 'x-request-id': requestId, 'content-type': 'application/json; charset=utf-8' })
      .map(([name, value]) => `${name}: ${value}\r\n`).join('')
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\n${lines}content-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`)
    }
    socket.destroy(err)
  }
}
