import { request } from 'undici'

/** A browser-ish client over real HTTP: a cookie jar per host, redirects followed one hop at a time. */
export function browser (accept = 'text/html,application/xhtml+xml') {
  const jar = new Map<string, Map<string, string>>()
  const responses: Array<{ url: string, status: number, headers: Record<string, string | string[] | undefined> }> = []

  /** GET, or POST of `form` (as a browser submits a form) when given. */
  async function get (url: string, form?: Record<string, string | string[]>) {
    const target = new URL(url)
    const cookies = jar.get(target.host) ?? new Map<string, string>()
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const body = form === undefined
      ? undefined
      : new URLSearchParams(Object.entries(form)
        .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map(v => [name, v] as [string, string]))).toString()
    const res = await request(target, {
      method: form === undefined ? 'GET' : 'POST',
      headers: { accept, ...(cookie === '' ? {} : { cookie }), ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(body === undefined ? {} : { body })
    })
    const text = await res.body.text()
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
    return { status: res.statusCode, headers: res.headers, body: text, location: next }
  }

  const post = (url: string, form: Record<string, string | string[]>) => get(url, form)

  async function follow (url: string, maxHops = 10) {
    let answer = await get(url)
    for (let hop = 0; answer.location !== undefined && hop < maxHops; hop++) answer = await get(answer.location)
    return answer
  }

  return { get, post, follow, responses, jar }
}
