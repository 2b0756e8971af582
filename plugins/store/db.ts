import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'

export interface Queryable {
  query<Row = Record<string, unknown>> (sql: string, params?: unknown[]): Promise<Row[]>
}

/** The SQL surface the store needs: the same on PGlite and on a PostgreSQL pool. */
export interface Db extends Queryable {
  exec (sql: string): Promise<void>
  transaction<T> (work: (tx: Queryable & Pick<Db, 'exec'>) => Promise<T>): Promise<T>
  close (): Promise<void>
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

/** An embedded PostgreSQL in `dataDir`, or in memory when `dataDir` is undefined. */
export async function openPglite (dataDir?: string): Promise<Db> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true })
  const pglite = await PGlite.create(dataDir)
  return {
    ...wrap(pglite),
    transaction: work => pglite.transaction(tx => work(wrap(tx))),
    close: () => pglite.close()
  }
}
