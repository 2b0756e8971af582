import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import { type DestinationStream, stdSerializers } from 'pino'

// Keys that may hold a secret inside a logged object. The service logs paths, ids and error codes, never a
// query or a Graph answer; these catch a mistake. `code` is not among them: it is every error's code (EADDRINUSE,
// a SQLSTATE, ours), and the OAuth code only ever travels in a callback's query, which is never logged.
const SECRET_KEYS = ['access_token', 'client_secret', 'appsecret_proof', 'fb_exchange_token', 'code_verifier',
  'state', 'link', 'token', 'accessToken', 'authorization', 'cookie', 'set-cookie', 'next']

// What a database error carries besides its message: the statement, its parameters (customers' words, PSIDs, sealed
// tokens) and the offending values. The log outlives what deauthorize and data deletion erase, so none of it goes there.
const DATABASE_ERROR_FIELDS = ['query', 'params', 'detail', 'where', 'internalQuery', 'internalPosition', 'position', 'hint']

function errorWithoutData (err: Error) {
  const serialized = stdSerializers.err(err)
  for (const field of DATABASE_ERROR_FIELDS) delete serialized[field]
  return serialized
}

const pathOf = (url: string) => url.split('?', 1)[0]

const REQUEST_ID_LABEL = 'requestId'
const REQUEST_ID = Symbol('requestId')
type RequestLogger = FastifyBaseLogger & { [REQUEST_ID]?: string }

export function loggerOptions (level: string, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level,
    ...(stream === undefined ? {} : { stream }),
    redact: {
      paths: [
        ...SECRET_KEYS.map(key => `*["${key}"]`),
        'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.paging.next'
      ],
      censor: '[redacted]'
    },
    // The request id joins each line as it is written (a child inherits it from its parent's prototype).
    mixin: (_object, _level, logger) => {
      const requestId = (logger as RequestLogger)[REQUEST_ID]
      return requestId === undefined ? {} : { [REQUEST_ID_LABEL]: requestId }
    },
    serializers: {
      // The path only: the query of /connect, /facebook/login and /facebook/callback carries links, codes and states.
      req: request => ({ method: request.method, path: pathOf(request.url) }),
      err: errorWithoutData
    }
  }
}

/** One line per request, when it completes, with the path and never the query. */
export class RequestLogController extends LogController {
  constructor () {
    super({ requestIdLogLabel: REQUEST_ID_LABEL })
  }

  override incomingRequest () {}

  // Fastify's own line names the URL with its query; the completed line already records the 404.
  override routeNotFound () {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    const line = { method: request.method, path: pathOf(request.url), statusCode: reply.statusCode, responseTime: reply.elapsedTime }
    if (error == null) reply.log.info(line, 'request completed')
    else reply.log.error({ ...line, err: error }, 'request errored')
  }
}

/**
 * Each request's child logger, without bindings: pino runs the wildcard redaction over a child's bindings
 * when it is made, ~6 µs per request whether or not the request logs anything; the mixin adds the id instead.
 */
export const childLoggerFactory: FastifyServerOptions['childLoggerFactory'] = (logger, bindings, options) => {
  const child: RequestLogger = logger.child({}, options)
  child[REQUEST_ID] = bindings[REQUEST_ID_LABEL] as string
  return child
}
