import { request } from 'undici'

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

/**
 * The owner's console pages, each requested `rounds` times in turn (interleaved with the service's /healthz as the
 * baseline of a request that does nothing), with a session opened from a fresh connect link. Latency is measured
 * at the client on loopback, so it bounds the server's time from above.
 */
export async function timeConsolePages (base: string, adminToken: string, workspace: string, rounds: number) {
  const auth = { authorization: `Bearer ${adminToken}` }
  const minted = await request(`${base}/admin/workspaces/${workspace}/connect-links`, { method: 'POST', headers: auth })
  const link = new URL((await minted.body.json() as { url: string }).url).searchParams.get('link')!
  const opened = await request(`${base}/console/open?${new URLSearchParams({ link })}`)
  await opened.body.dump()
  const cookie = String(opened.headers['set-cookie']).split(';')[0]!
  const listing = await request(`${base}/console/conversations`, { headers: { cookie } })
  const conversation = /href="(\/console\/conversations\/\d+\/\d+)"/.exec(await listing.body.text())?.[1]
  const campaigns = await request(`${base}/admin/workspaces/${workspace}/campaigns`, { headers: auth })
  const campaign = (await campaigns.body.json() as { campaigns: Array<{ id: string }> }).campaigns[0]?.id
  const paths = ['/healthz', '/console', '/console/conversations', ...(conversation === undefined ? [] : [conversation]),
    '/console/campaigns', ...(campaign === undefined ? [] : [`/console/campaigns/${campaign}`]), '/console/results']
  const times = new Map(paths.map(path => [path, [] as number[]]))
  let errors = 0
  for (let round = 0; round < rounds; round++) {
    for (const path of paths) {
      const started = performance.now()
      const res = await request(`${base}${path}`, { headers: { cookie } })
      await res.body.dump()
      times.get(path)!.push(performance.now() - started)
      if (res.statusCode !== 200) errors++
    }
  }
  return {
    errors,
    pages: paths.map(path => {
      const sorted = times.get(path)!.sort((a, b) => a - b)
      return { path: path.replace(/\/\d{6,}/g, '/{id}'), p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
    })
  }
}
