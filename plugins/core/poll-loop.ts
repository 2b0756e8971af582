/**
 * A background worker's loop: one pass at a time; the next at once when the pass says there is more (or something
 * asked for one while it ran), else after `idleMs`. `start` runs first (ending a dead run's leases, say); `stop`
 * waits for the pass in flight.
 */
export function startPollLoop (options: {
  pass: () => Promise<boolean>
  idleMs: number
  onError: (err: unknown) => void
  start?: () => Promise<void>
}) {
  let running = true
  let timer: NodeJS.Timeout | undefined
  let current: Promise<boolean> | undefined
  let asked = false

  function schedule (delay: number) {
    if (!running) return
    clearTimeout(timer)
    timer = setTimeout(run, delay)
    timer.unref()
  }

  function run () {
    if (current !== undefined) return
    current = options.pass().catch(err => { options.onError(err); return false })
    current.then(more => {
      current = undefined
      schedule(more || asked ? 0 : options.idleMs)
      asked = false
    }, () => {})
  }

  current = (options.start?.() ?? Promise.resolve()).then(() => false, err => { options.onError(err); return false })
  current.then(() => { current = undefined; schedule(0) }, () => {})

  return {
    /** Work arrived: a pass now, or right after the one running. */
    wake () {
      if (current === undefined) schedule(0)
      else asked = true
    },
    get running () { return running },
    async stop () {
      running = false
      clearTimeout(timer)
      await current
    }
  }
}
