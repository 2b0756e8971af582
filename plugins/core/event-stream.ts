import type { FastifyReply } from 'fastify'

const HEARTBEAT_MS = 15_000

export interface EventPoll {
  /** what to send now (nothing when unchanged), and whether the stream is over after it */
  (): Promise<{ data?: unknown, end?: boolean }>
}

/**
 * Server-Sent Events on `reply.raw`: `first` at once, then whatever `poll` finds every `pollMs` (a store poll, so
 * every replica sees what any other wrote), a comment line when quiet so proxies keep the connection, until `poll`
 * says it is over, the client leaves or the server closes (`open` holds the ends the server calls on close).
 */
export function streamEvents (reply: FastifyReply, options: {
  event: string, first?: unknown, poll: EventPoll, pollMs: number, open: Set<() => void>, onError: (err: unknown) => void
}): void {
  const { event, poll, open } = options
  reply.hijack()
  const raw = reply.raw
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff'
  })
  const write = (data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  if (options.first !== undefined) write(options.first)
  let ended = false
  let lastWrite = Date.now()
  let polling = false
  const end = () => {
    if (ended) return
    ended = true
    clearInterval(timer)
    open.delete(end)
    raw.end()
  }
  const timer = setInterval(() => {
    if (polling) return
    polling = true
    poll().then(({ data, end: over }) => {
      polling = false
      if (ended) return
      if (data !== undefined) {
        lastWrite = Date.now()
        write(data)
      } else if (Date.now() - lastWrite > HEARTBEAT_MS) {
        lastWrite = Date.now()
        raw.write(': still here\n\n')
      }
      if (over === true) end()
    }, err => { polling = false; options.onError(err); end() })
  }, options.pollMs)
  open.add(end)
  raw.on('close', end)
}
