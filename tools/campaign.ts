import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { request } from 'undici'

/**
 * `npm run campaign -- start|watch ...`: drives the admin API's campaigns from a terminal, with a live progress bar
 * fed by the campaign's Server-Sent Events and a summary at the end. SERVICE_URL (default http://127.0.0.1:5000)
 * and ADMIN_API_TOKEN say where and as whom.
 */
const USAGE = `usage:
  npm run campaign -- start --workspace W --name NAME --text TEXT [--products ID,ID] [--pages ID,ID] [--hours 1-24]
                            [--discount CODE] [--at ISO-TIME]
  npm run campaign -- watch --workspace W --id ID
environment: SERVICE_URL (default http://127.0.0.1:5000), ADMIN_API_TOKEN (required)`

interface Progress {
  id: string,
  name: string,
  status: string,
  total: number,
  queued: number,
  sent: number,
  failed: number
  skipped: { windowClosed: number, optedOut: number, unreachable: number, withHuman: number }
}

function fail (message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(2)
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        workspace: { type: 'string' },
        id: { type: 'string' },
        name: { type: 'string' },
        text: { type: 'string' },
        products: { type: 'string' },
        pages: { type: 'string' },
        hours: { type: 'string' },
        discount: { type: 'string' },
        at: { type: 'string' }
      }
    })
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`)
  }
})()
const command = positionals[0]
const base = (process.env.SERVICE_URL ?? 'http://127.0.0.1:5000').replace(/\/+$/, '')
const token = process.env.ADMIN_API_TOKEN ?? fail(`ADMIN_API_TOKEN is not set\n${USAGE}`)
const workspace = values.workspace ?? fail(`--workspace is required\n${USAGE}`)
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const list = (value: string | undefined) => value?.split(',').map(item => item.trim()).filter(item => item !== '')

async function call (method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${base}/admin/workspaces/${encodeURIComponent(workspace)}${path}`, {
    method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) })
  }).catch((err: Error) => fail(`the service at ${base} cannot be reached (${err.message})`))
  const answer = await res.body.json().catch(() => ({})) as Record<string, unknown>
  if (res.statusCode >= 400) fail(`${method} ${path}: ${res.statusCode} ${String(answer.message ?? '')}`)
  return answer
}

/** Follows the campaign's events until it ends, drawing the bar; gives the last progress. */
async function watch (id: string): Promise<Progress> {
  const bar = new cliProgress.SingleBar({
    format: '{name} |{bar}| {value}/{total} done · {sent} sent · {skipped} skipped · {failed} failed · {status}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 1000
  }, cliProgress.Presets.shades_classic)
  let last: Progress | undefined
  const res = await request(`${base}/admin/workspaces/${encodeURIComponent(workspace)}/campaigns/${encodeURIComponent(id)}/events`, { headers })
  if (res.statusCode !== 200) fail(`watching campaign ${id}: ${res.statusCode}`)
  let buffered = ''
  for await (const chunk of res.body) {
    buffered += String(chunk)
    let end: number
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const data = block.split('\n').find(line => line.startsWith('data: '))
      if (data === undefined) continue
      const progress = JSON.parse(data.slice('data: '.length)) as Progress
      const skipped = Object.values(progress.skipped).reduce((sum, n) => sum + n, 0)
      const payload = { name: progress.name, sent: progress.sent, skipped, failed: progress.failed, status: progress.status }
      if (last === undefined) bar.start(progress.total, progress.total - progress.queued, payload)
      else bar.setTotal(progress.total)
      bar.update(progress.total - progress.queued, payload)
      last = progress
    }
  }
  bar.stop()
  return last ?? fail(`campaign ${id} sent no progress`)
}

function summary (progress: Progress): string {
  const { windowClosed, optedOut, unreachable, withHuman } = progress.skipped
  return `Campaign ${progress.id} "${progress.name}" ${progress.status}: ${progress.total} recipients, ${progress.sent} sent, ` +
    `${progress.failed} failed; skipped: ${windowClosed} window closed, ${optedOut} opted out, ${unreachable} unreachable, ` +
    `${withHuman} with a person.\n`
}

if (command === 'start') {
  const created = await call('POST', '/campaigns', {
    name: values.name ?? fail(`--name is required\n${USAGE}`),
    text: values.text ?? fail(`--text is required\n${USAGE}`),
    ...(values.products === undefined ? {} : { productIds: list(values.products) }),
    ...(values.pages === undefined ? {} : { pageIds: list(values.pages) }),
    ...(values.hours === undefined ? {} : { audience: { lastMessageWithinHours: Number(values.hours) } }),
    ...(values.discount === undefined ? {} : { discountCode: values.discount })
  })
  const id = String(created.id)
  const started = await call('POST', `/campaigns/${id}/start`, values.at === undefined ? {} : { at: values.at })
  if (started.status === 'scheduled') {
    process.stdout.write(`Campaign ${id} scheduled for ${values.at}; watch it with: npm run campaign -- watch --workspace ${workspace} --id ${id}\n`)
  } else {
    process.stdout.write(summary(await watch(id)))
  }
} else if (command === 'watch') {
  process.stdout.write(summary(await watch(values.id ?? fail(`--id is required\n${USAGE}`))))
} else {
  fail(USAGE)
}
