import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pg from 'pg'
import type { Test } from 'tap'
import { MockAgent } from 'undici'
import { type Config, loadConfig } from '../plugins/core/config.js'
import type { Product } from '../plugins/store/catalog.js'
import { type Db, openPglite, openPostgres } from '../plugins/store/db.js'
import { MIGRATIONS, migrate } from '../plugins/store/migrations.js'
import { type AppDependencies, buildServer } from '../src/app.js'

export const APP_ID = '123456789012345'
export const APP_SECRET = 'test-app-secret-0123456789abcdef'
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef0123456789'
export const GRAPH = 'https://graph.test'

export function testEnv (overrides: Record<string, string> = {}): Record<string, string> {
  return {
    FACEBOOK_APP_ID: APP_ID,
    FACEBOOK_APP_SECRET: APP_SECRET,
    FACEBOOK_REDIRECT_URI: 'https://connect.example.com/facebook/callback',
    STATE_TOKEN_SECRET: 'state-secret-0123456789abcdef0123456789',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    ADMIN_API_TOKEN: ADMIN_TOKEN,
    FACEBOOK_GRAPH_URL: GRAPH,
    FACEBOOK_DIALOG_URL: 'https://dialog.test',
    LOG_LEVEL: 'silent',
    ...overrides
  }
}

export const testConfig = (overrides: Record<string, string> = {}): Config => loadConfig(testEnv(overrides))

// initdb and the migrations take seconds on each new PGlite; loading a dump of a migrated one takes a
// fraction of that. The dump is shared by test files through a file named after what it contains.
const pgliteVersion = JSON.parse(await readFile('node_modules/@electric-sql/pglite/package.json', 'utf8')).version
const SNAPSHOT = join(tmpdir(), `msb-test-pglite-${createHash('sha256')
  .update(JSON.stringify([pgliteVersion, MIGRATIONS])).digest('hex').slice(0, 16)}.tar`)

async function migratedSnapshot (): Promise<Blob> {
  const saved = await readFile(SNAPSHOT).catch(() => undefined)
  if (saved !== undefined) return new Blob([saved])
  const db = await openPglite()
  await migrate(db)
  const dump = await db.dump()
  await db.close()
  const partial = `${SNAPSHOT}.${process.pid}`
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()))
  await rename(partial, SNAPSHOT)
  return dump
}

/** A DATA_DIR whose embedded store is already migrated, so a service started on it skips initdb; removed at the end. */
export async function seededDataDir (t: Test): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'msb-data-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  await (await openPglite(join(dataDir, 'pglite'), await migratedSnapshot())).close()
  return dataDir
}

/**
 * `db`, recording every delivery written to the inbox. A processed item leaves the inbox, so "nothing was
 * stored" is checked on what was written, not on what is left.
 */
export function recordingInboxWrites (db: Db) {
  const written: Array<{ source: string, body: string }> = []
  const recording: Db = {
    ...db,
    async query<Row> (sql: string, params?: unknown[]) {
      const rows = await db.query<Row>(sql, params)
      if (sql.startsWith('INSERT INTO inbox')) written.push(...(params![1] as string[]).map((body, i) => ({ source: (params![0] as string[])[i]!, body })))
      return rows
    }
  }
  return { db: recording, written }
}

/** One in-memory, migrated PGlite per test file; closed when the file's tests end. */
export async function testDb (t: Test): Promise<Db> {
  const db = await openPglite(undefined, await migratedSnapshot())
  t.teardown(() => db.close())
  return db
}

/** A ready app, closed when `t` ends. Graph goes to a MockAgent with the network disabled unless given. */
export async function build (t: Test, options: AppDependencies & { config?: Config, env?: Record<string, string> } = {}) {
  const { config = testConfig(options.env), ...deps } = options
  const app = await buildServer(config, deps)
  t.teardown(() => app.close())
  return app
}

export function mockGraph (t: Test): MockAgent {
  const agent = new MockAgent()
  agent.disableNetConnect()
  t.teardown(() => agent.close())
  return agent
}

/** Collects every log line a test app writes, to assert on what reaches the log. */
export function logCapture () {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(line => line !== ''))
      done()
    }
  })
  return { lines, stream: stream as unknown as NodeJS.WritableStream & { write (msg: string): void } }
}

type App = Awaited<ReturnType<typeof buildServer>>

/** Mints a connect link through the admin API, as an operator would. */
export async function mintLink (app: App, workspace: string): Promise<{ url: string, link: string, expiresAt: string }> {
  const res = await app.inject({ method: 'POST', url: `/admin/workspaces/${workspace}/connect-links`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  if (res.statusCode !== 201) throw new Error(`minting a link answered ${res.statusCode}`)
  const body = res.json()
  return { ...body, link: new URL(body.url).searchParams.get('link')! }
}

/** Starts Facebook Login from a link: the dialog URL's parameters and the binding cookie as a Cookie header. */
export async function startLogin (app: App, link: string) {
  const res = await app.inject({ url: `/facebook/login?${new URLSearchParams({ link })}` })
  if (res.statusCode !== 302) throw new Error(`login answered ${res.statusCode}`)
  const dialog = new URL(res.headers.location as string)
  const [cookie] = res.cookies
  return {
    res,
    dialog,
    state: dialog.searchParams.get('state')!,
    cookieName: cookie!.name,
    verifier: cookie!.value,
    cookieHeader: `${cookie!.name}=${cookie!.value}`
  }
}

/** A loopback port that was free a moment ago, for services whose URL must be known before they listen. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

export const POSTGRES_SKIP = 'TEST_DATABASE_URL is not set: run under .ci/with-postgres to include PostgreSQL'

/** A fresh PostgreSQL database for one test file, dropped at its end; undefined without TEST_DATABASE_URL. */
export async function testPostgresUrl (t: Test): Promise<string | undefined> {
  const adminUrl = process.env.TEST_DATABASE_URL
  if (adminUrl === undefined || adminUrl === '') return undefined
  const name = `msb_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client(adminUrl)
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  t.teardown(async () => {
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`)
    await admin.end()
  })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** The store backends to run a suite on: PGlite always, PostgreSQL when `.ci/with-postgres` provides one. */
export async function testBackends (t: Test): Promise<Array<{ name: string, db?: Db, skip?: string, replica?: () => Db }>> {
  const db = await testDb(t)
  // The embedded store has one client by nature: a second "replica" is the same database.
  const pglite = { name: 'pglite', db, replica: () => db }
  const url = await testPostgresUrl(t)
  if (url === undefined) return [pglite, { name: 'postgres', skip: POSTGRES_SKIP }]
  const pool = (size: number) => {
    const opened = openPostgres(url, size, () => {})
    t.teardown(() => opened.close())
    return opened
  }
  return [pglite, { name: 'postgres', db: pool(5), replica: () => pool(5) }]
}

/** A catalog product as the store keeps it, with one variant per `[price, available]` of `prices`. */
export function catalogProduct (id: string, title: string, { updatedAt = '2026-11-01T00:00:00Z', prices = [['10.00', true]], ...extra }:
  Partial<Omit<Product, 'updatedAt'>> & { updatedAt?: string, prices?: Array<[string, boolean]> } = {}): Product {
  return {
    id,
    title,
    handle: title.toLowerCase().replaceAll(' ', '-'),
    description: '',
    productType: '',
    vendor: '',
    tags: [],
    url: null,
    imageUrl: null,
    price: { min: prices[0]![0], max: prices.at(-1)![0], currency: 'EUR' },
    variants: prices.map(([price, available], i) => ({ id: `${id}${i}`, title: `v${i}`, price, available })),
    updatedAt: new Date(updatedAt),
    ...extra
  }
}

/** A Messenger webhook delivery as Meta posts it: the body signed with the app secret; answers the status code. */
export async function postSignedDelivery (app: App, body: string): Promise<number> {
  const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`
  const res = await app.inject({
    method: 'POST', url: '/messenger/webhook', payload: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }
  })
  return res.statusCode
}

/** Where a link the service sent leads: the destination inside its /r/ token (read, not verified). */
export function destinationOf (url: string): string {
  const token = /\/r\/([^/?#]+)$/.exec(url)?.[1]
  if (token === undefined) throw new Error(`not a tracked link: ${url}`)
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { d: string }).d
}

/** `value` with every tracked link (…/r/{token}) replaced by its destination, to compare with what was meant. */
export function untrackedLinks<T> (value: T): T {
  if (typeof value === 'string') return (/^https?:\/\/[^/]+\/r\/[^/?#]+$/.test(value) ? destinationOf(value) : value) as T
  if (Array.isArray(value)) return value.map(untrackedLinks) as T
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, untrackedLinks(inner)])) as T
  }
  return value
}
