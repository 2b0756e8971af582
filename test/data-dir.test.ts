import { chmod, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { ADMIN_TOKEN, freePort, seededDataDir } from './helper.js'
import { spawnService } from './service-process.js'

/** Every path under `dir` (itself included) whose mode lets anyone but the owner in. */
async function openToOthers (dir: string): Promise<string[]> {
  const paths = [dir, ...(await readdir(dir, { recursive: true })).map(name => join(dir, name))]
  const open: string[] = []
  for (const path of paths) if (((await stat(path)).mode & 0o077) !== 0) open.push(path)
  return open
}

t.test('the embedded store keeps DATA_DIR and every file in it to the service\'s user, files made before included', async t => {
  const dataDir = await seededDataDir(t)
  // As a store made before this rule would be: every file and folder open to everyone.
  for (const name of ['', ...await readdir(dataDir, { recursive: true })]) {
    const path = join(dataDir, name)
    await chmod(path, (await stat(path)).isDirectory() ? 0o777 : 0o666)
  }
  t.ok((await openToOthers(dataDir)).length > 100, 'the store starts open to everyone')
  const port = await freePort()
  const { base } = await spawnService(t, { DATA_DIR: dataDir, PORT: String(port) })
  const minted = await request(`${base}/admin/workspaces/private-ws/connect-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(minted.statusCode, 201, 'the store has written since it started')
  await minted.body.dump()
  t.equal((await stat(dataDir)).mode & 0o777, 0o700)
  t.same(await openToOthers(dataDir), [], 'nothing open to group or others, the WAL included')
})
