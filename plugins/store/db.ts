import { chmod, mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'

/** The database cannot be reached right now (not: this query is wrong). The app answers it with a 503. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
}

export interface Queryable {
  query<Row = Record<string, unknown>> (sql: string, params?: unknown[]): Promise<Row[]>
}

/** The SQL surface the store needs: the same on PGlite and on a PostgreSQL pool. */
export interface Db extends Queryable {
  /** true when this process is the database's only client (the embedded store), so no other replica holds its leases */
  readonly exclusive: boolean
  exec (sql: string): Promise<void>
  transaction<T> (work: (tx: Queryable & Pick<Db, 'exec'>) => Promise<T>): Promise<T>
  close (): Promise<void>
}

/**
 * Makes the space of deleted rows reusable on the embedded store, which has no autovacuum (its files would
 * otherwise only grow). A no-op on PostgreSQL, whose autovacuum does it.
 */
export async function vacuumEmbedded (db: Db, tables: string[]): Promise<void> {
  if (db.exclusive) await db.exec(`VACUUM ${tables.join(', ')}`)
}

function wrap (target: Pick<PGlite, 'query' | 'exec'>) {
  return {
    async query<Row> (sql: string, params?: unknown[]) {
      return (await target.query<Row>(sql, params)).rows
    },
    async exec (sql: string) {
      await target.exec(sql)
    }
  }
}

// PostgreSQL's defaults size its buffers for a server of its own; in-process they are the service's memory.
// These keep a restarted embedded store near 190 MB of RSS instead of 330 MB (measured with bench/run.ts).
// Its pages are all in memory, so a random read costs what a sequential one does: the planner then prefers
// the catalog's GIN index to evaluating the text search on every row.
const EMBEDDED_SETTINGS = [
  'shared_buffers = 16MB', 'wal_buffers = 1MB', 'work_mem = 2MB', 'maintenance_work_mem = 8MB', 'temp_buffers = 2MB',
  'random_page_cost = 1.1'
]

/**
 * The data directory and everything in it readable by the service's user only: the embedded store holds sealed
 * tokens and customers' messages, and its WAL is written with whatever mode the engine asks for. Existing files
 * are tightened too, so a store made before this rule, or by another umask, is covered.
 */
export async function restrictToOwner (dir: string, { contents = true } = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
  if (!contents) return
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    await chmod(join(entry.parentPath, entry.name), entry.isDirectory() ? 0o700 : 0o600)
  }
}

/**
 * An embedded PostgreSQL in `dataDir`, or in memory when `dataDir` is undefined. A new one starts from
 * `seed` (a data directory dumped by `dump()`) when given, instead of running initdb.
 */
export async function openPglite (dataDir?: string, seed?: Blob): Promise<Db & { dump (): Promise<Blob> }> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true, mode: 0o700 })
  // Loaded only when used: a replica on DATABASE_URL never pays for the embedded engine's memory.
  const { PGlite } = await import('@electric-sql/pglite')
  const pglite = await PGlite.create(dataDir, { postgresqlconf: EMBEDDED_SETTINGS, ...(seed === undefined ? {} : { loadDataDir: seed }) })
  // The engine writes its relation cache files (pg_internal.init) at start with modes of its own.
  if (dataDir !== undefined) await restrictToOwner(dataDir)
  return {
    exclusive: true,
    ...wrap(pglite),
    transaction: work => pglite.transaction(tx => work(wrap(tx))),
    dump: () => pglite.dumpDataDir('none'),
    close: () => pglite.close()
  }
}

// SQLSTATE classes that mean "the database is not there right now", not "this query is wrong":
// 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown, restart).
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/

function unavailable (err: unknown): unknown {
  const code = (err as { code?: unknown }).code
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
  if (sqlState && !UNAVAILABLE_SQLSTATE.test(code as string)) return err
  return new StoreUnavailableError('the database is unavailable', { cause: err })
}

/** A PostgreSQL pool; connection failures surface as StoreUnavailableError and the pool recovers by itself. */
export function openPostgres (connectionString: string, poolSize: number, onIdleError: (err: Error) => void): Db {
  const pool = new pg.Pool({ connectionString, max: poolSize, connectionTimeoutMillis: 3000 })
  pool.on('error', onIdleError)
  const run = async <Row> (target: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]) => {
    try {
      return (await target.query(sql, params)).rows as Row[]
    } catch (err) {
      throw unavailable(err)
    }
  }
  return {
    exclusive: false,
    query: (sql, params) => run(pool, sql, params),
    exec: async sql => { await run(pool, sql) },
    async transaction (work) {
      const client = await pool.connect().catch(err => { throw unavailable(err) })
      try {
        await run(client, 'BEGIN')
        const result = await work({ query: (sql, params) => run(client, sql, params), exec: async sql => { await run(client, sql) } })
        await run(client, 'COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    },
    close: () => pool.end()
  }
}
