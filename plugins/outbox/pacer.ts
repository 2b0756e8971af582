const CATCH_UP_MS = 20

interface Waiting { urgent: boolean, go: () => void }
interface PageLine { waiting: Waiting[], next: number, timer: NodeJS.Timeout | undefined }

/**
 * Each Page's calls one `spacingMs` apart, in turns: a call waits in its Page's line until its slot, and an urgent
 * one (a reply to a customer) goes before every campaign message still waiting, even ones claimed earlier. Rows of
 * one conversation are never in a line together (the outbox claims a conversation's next row only once the one
 * before is settled), so a conversation's order never changes here.
 */
export function createPacer (spacingMs: number, now: () => number = Date.now) {
  const lines = new Map<string, PageLine>()

  function release (pageId: string, line: PageLine) {
    line.timer = undefined
    // Node times a timer from the start of the loop turn that set it, so after a busy turn it can fire early.
    const early = line.next - now()
    if (early >= 1 && line.waiting.length > 0) {
      line.timer = setTimeout(() => release(pageId, line), Math.ceil(early))
      return
    }
    const first = line.waiting.shift()
    if (first === undefined) return
    // A turn given a little late (a timer waits for whatever holds the thread, such as the embedded store's
    // statements) keeps its slot, so the lateness is made up by the next turns instead of lost for good; the
    // slots stay `spacingMs` apart, so any second holds at most CATCH_UP_MS worth of slots more than the rate.
    const late = now() - line.next
    line.next = (late > CATCH_UP_MS ? now() : line.next) + spacingMs
    first.go()
    schedule(pageId, line)
  }

  function schedule (pageId: string, line: PageLine) {
    if (line.timer !== undefined || line.waiting.length === 0) return
    const wait = line.next - now()
    if (wait <= 0) return release(pageId, line)
    line.timer = setTimeout(() => release(pageId, line), Math.ceil(wait))
  }

  return {
    /** Resolves when it is this call's turn on `pageId`. */
    turn (pageId: string, urgent: boolean): Promise<void> {
      const line = lines.get(pageId) ?? { waiting: [], next: 0, timer: undefined }
      lines.set(pageId, line)
      return new Promise(resolve => {
        const at = urgent ? line.waiting.findIndex(waiting => !waiting.urgent) : -1
        if (at === -1) line.waiting.push({ urgent, go: resolve })
        else line.waiting.splice(at, 0, { urgent, go: resolve })
        schedule(pageId, line)
      })
    },
    /** How long until the last call now waiting on `pageId` has its turn. */
    aheadMs (pageId: string): number {
      const line = lines.get(pageId)
      if (line === undefined || line.waiting.length === 0) return 0
      return Math.max(0, line.next - now()) + (line.waiting.length - 1) * spacingMs
    }
  }
}
