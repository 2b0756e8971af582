/**
 * Group commit: the first item is written at once; items added while a write runs are written together by the next
 * one. Each caller's promise settles when the write that carried its item has (so "awaited" still means "stored").
 * On the embedded store every statement costs about a millisecond of the one thread, so N items in one statement
 * cost little more than one.
 */
export function groupCommit<T> (write: (items: T[]) => Promise<void>) {
  let waiting: Array<{ item: T, resolve: () => void, reject: (err: unknown) => void }> = []
  let writing = false

  async function writeAll () {
    writing = true
    while (waiting.length > 0) {
      // Lets the event loop take in what has arrived (setImmediate runs after pending I/O), so more rides along.
      await new Promise(resolve => setImmediate(resolve))
      const batch = waiting
      waiting = []
      try {
        await write(batch.map(entry => entry.item))
        for (const entry of batch) entry.resolve()
      } catch (err) {
        for (const entry of batch) entry.reject(err)
      }
    }
    writing = false
  }

  return (item: T): Promise<void> => new Promise((resolve, reject) => {
    waiting.push({ item, resolve, reject })
    if (!writing) writeAll()
  })
}
