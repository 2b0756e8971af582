import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { Pool, request } from 'undici'
import { openPglite } from '../plugins/store/db.js'

/** Signed Messenger deliveries, one customer message each from its own PSID, as Meta posts them. */
export function signedDeliveries (appSecret: string, pageId: string, firstPsid: number) {
  let next = firstPsid
  return () => {
    const psid = String(next++)
    const now = Date.now()
    const body = JSON.stringify({
      object: 'page',
      entry: [{ id: pageId, time: now, messaging: [{ sender: { id: psid }, recipient: { id: pageId }, timestamp: now, message: { mid: `m_bench_${psid}`, text: `Do you have this in blue? ${psid}` } }] }]
    })
    return { psid, body, signature: `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}` }
  }
}

/**
 * Posts signed deliveries to `url` for `seconds`, at `rate` per second overall (unbounded when 0), and
 * returns the PSIDs whose delivery was acknowledged with a 200, with the latency of the acknowledgements.
 */
export async function postDeliveries (url: string, next: ReturnType<typeof signedDeliveries>, seconds: number, rate = 0) {
  const acknowledged: string[] = []
  const result = await autocannon({
    url,
    connections: 50,
    duration: seconds,
    ...(rate > 0 ? { overallRate: rate } : {}),
    requests: [{
      setupRequest: (req, context: { psid?: string }) => {
        const delivery = next()
        context.psid = delivery.psid
        return { ...req, method: 'POST', body: delivery.body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature } }
      },
      onResponse: (status, _body, context: { psid?: string }) => { if (status === 200) acknowledged.push(context.psid!) }
    }]
  })
  return {
    acknowledged,
    perSecond: acknowledged.length / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx
  }
}

/**
 * Posts signed deliveries as a steady stream of `rate` per second for `seconds` (autocannon's rate option sends
 * each second's quota as a burst at the start of the second; Meta's deliveries arrive as a stream). Latency runs
 * from when a delivery was due, so a stalled server is not hidden by the sender waiting for it.
 */
export async function streamDeliveries (url: string, next: ReturnType<typeof signedDeliveries>, seconds: number, rate: number) {
  const target = new URL(url)
  const pool = new Pool(target.origin, { connections: 128 })
  const acknowledged: string[] = []
  const latencies: number[] = []
  let errors = 0
  const inFlight = new Set<Promise<void>>()
  const started = performance.now()
  let sent = 0
  const total = seconds * rate
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) * rate / 1000))
    for (; sent < due; sent++) {
      const dueAt = started + sent * 1000 / rate
      const delivery = next()
      const sending = pool.request({ method: 'POST', path: target.pathname, body: delivery.body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature } })
        .then(async res => {
          await res.body.dump()
          latencies.push(performance.now() - dueAt)
          if (res.statusCode === 200) acknowledged.push(delivery.psid)
          else errors++
        }, () => { errors++ })
        .finally(() => inFlight.delete(sending))
      inFlight.add(sending)
    }
    await sleep(2)
  }
  await Promise.all(inFlight)
  await pool.close()
  latencies.sort((a, b) => a - b)
  const at = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN)
  const max = Math.round(latencies.at(-1) ?? NaN)
  return { acknowledged, perSecond: acknowledged.length / seconds, p50: at(0.5), p99: at(0.99), max, errors }
}

/** Waits until the newest conversation in the admin API is `psid`'s or a later one, or `timeoutMs` passes. */
export async function waitForConversation (base: string, admin: string, path: string, psid: string, timeoutMs: number) {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    const res = await request(`${base}/admin/workspaces/${path}/conversations?limit=1`, { headers: { authorization: `Bearer ${admin}` } })
    const { conversations } = await res.body.json() as { conversations: Array<{ psid: string }> }
    if (Number(conversations[0]?.psid ?? 0) >= Number(psid)) return Date.now() - started
    await sleep(200)
  }
  return undefined
}

/** Opens a stopped service's embedded store and counts what it holds of the acknowledged deliveries. */
export async function countProcessed (dataDir: string, acknowledged: string[]) {
  const db = await openPglite(join(dataDir, 'pglite'))
  try {
    const [inbox] = await db.query<{ left: number }>('SELECT count(*)::integer AS left FROM inbox')
    const present = new Set((await db.query<{ psid: string }>("SELECT psid FROM messages WHERE mid LIKE 'm_bench_%'")).map(row => row.psid))
    return { ...inbox!, lost: acknowledged.filter(psid => !present.has(psid)).length }
  } finally {
    await db.close()
  }
}
