import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { FacebookEmulator } from '../tools/emulator/facebook.js'

// Customers per signed delivery while windows are opened (Meta batches entries the same way).
const ENTRIES_PER_DELIVERY = 100

export interface AdminApi { base: string, token: string, workspace: string }

async function call (api: AdminApi, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) {
  const res = await request(`${api.base}/admin/workspaces/${api.workspace}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const answer = await res.body.json() as Record<string, unknown>
  if (res.statusCode >= 300) throw new Error(`${method} ${path} answered ${res.statusCode}`)
  return answer
}

/** `count` customers, PSIDs from `firstPsid`, write once to `pageId` (opening their window); waits until all are stored. */
export async function openWindows (api: AdminApi, emulator: FacebookEmulator, pageId: string, firstPsid: number, count: number) {
  const psids = Array.from({ length: count }, (_, i) => String(firstPsid + i))
  const before = await conversationsToday(api)
  for (let at = 0; at < count; at += ENTRIES_PER_DELIVERY * 4) {
    await Promise.all([0, 1, 2, 3].map(async part => {
      const slice = psids.slice(at + part * ENTRIES_PER_DELIVERY, at + (part + 1) * ENTRIES_PER_DELIVERY)
      if (slice.length === 0) return
      const status = await emulator.deliverMessages(slice.map(psid => ({ pageId, psid, text: 'hi, anything new?' })))
      if (status !== 200) throw new Error(`a delivery was answered ${status}`)
    }))
  }
  for (let waited = 0; await conversationsToday(api) < before + count; waited += 250) {
    if (waited > 120_000) throw new Error('the customers\' messages were not all stored within 2 minutes')
    await sleep(250)
  }
  return psids
}

async function conversationsToday (api: AdminApi): Promise<number> {
  const { totals } = await call(api, 'GET', '/analytics') as { totals: { conversations: number } }
  return totals.conversations
}

export const setBot = (api: AdminApi, enabled: boolean) => call(api, 'PUT', '/bot', { enabled })

export interface CampaignRun {
  recipients: number
  /** from the start request to the Send API call with the last campaign message, as the emulator saw it */
  seconds: number
  /** every message of the Page in that time (the campaign's and any replies) over the configured rate */
  expectedSeconds: number
  duplicates: number
  missing: number
  progress: Record<string, unknown>
}

/**
 * A text-only campaign on `pageId` to whoever wrote to it within the window (`psids`, all of them), started and
 * waited for. `whileRunning` is given the start time and
 * runs alongside (customers asking, or a SIGKILL and a restart); it returns the service's base URL from then on.
 */
export async function runCampaign (
  api: AdminApi, emulator: FacebookEmulator, pageId: string, psids: string[], rate: number,
  whileRunning: (sentSoFar: () => number) => Promise<AdminApi> = async () => api
): Promise<CampaignRun> {
  const text = `Campaign ${Date.now()}: this week only, 10% off everything`
  const campaignMessages = () => emulator.sentMessages.filter(sent => sent.message.text === text)
  const { id } = await call(api, 'POST', '/campaigns', { name: text.slice(0, 40), text, pageIds: [pageId] }) as { id: string }
  const firstIndex = emulator.sentMessages.length
  const started = Date.now()
  await call(api, 'POST', `/campaigns/${id}/start`, {})
  const after = await whileRunning(() => campaignMessages().length)

  let progress: Record<string, unknown> = {}
  for (let waited = 0; progress.status !== 'finished'; waited += 250) {
    progress = await call(after, 'GET', `/campaigns/${id}`)
    if (progress.status === 'finished') break
    if (waited > 600_000) throw new Error(`the campaign did not finish within 10 minutes: ${JSON.stringify(progress)}`)
    await sleep(250)
  }
  const sent = campaignMessages()
  const times = new Map<string, number>()
  for (const message of sent) times.set(message.psid, (times.get(message.psid) ?? 0) + 1)
  const audience = new Set(psids)
  const last = Math.max(...sent.map(message => message.at))
  const pageMessages = emulator.sentMessages.slice(firstIndex).filter(message => message.pageId === pageId && message.at <= last).length
  return {
    recipients: Number(progress.total),
    seconds: (last - started) / 1000,
    expectedSeconds: pageMessages / rate,
    duplicates: [...times.values()].filter(n => n > 1).length + sent.filter(message => !audience.has(message.psid)).length,
    missing: [...audience].filter(psid => !times.has(psid)).length,
    progress
  }
}
