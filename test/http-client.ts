import { request } from 'undici'

/** A browser-ish client over real HTTP: a cookie jar per host, redirects followed one hop at a time. */
export function browser (accept = 'text/html,application/xhtml+xml') {
  const jar = new Map<string, Map<string, string>>()
  const responses: Array<{ url: string, status: number, headers: Record<string, string | string[] | undefined> }> = []

  async function get (url: string) {
    const target = new URL(url)
    const cookies = jar.get(target.host) ?? new Map<string, string>()
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const res = await request(target, { headers: { accept, ...(cookie === '' ? {} : { cookie }) } })
    const body = await res.body.text()
    responses.push({ url, status: res.statusCode, headers: res.headers })
    const setCookie = res.headers['set-cookie']
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie]) {
      const [pair] = line.split(';')
      const [name, ...value] = pair!.split('=')
      if (/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name!)
      else cookies.set(name!, value.join('='))
    }
    jar.set(target.host, cookies)
    const location = res.headers.location as string | undefined
    const next = location === undefined ? undefined : new URL(location, target).toString()
    return { status: res.statusCode, headers: res.headers, body, location: next }
  }

  async function follow (url: string, maxHops = 10) {
    let answer = await get(url)
    for (let hop = 0; answer.location !== undefined && hop < maxHops; hop++) answer = await get(answer.location)
    return answer
  }

  return { get, follow, responses, jar }
}
