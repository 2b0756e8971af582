import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import t, { type Test } from 'tap'
import { freePort, seededDataDir, testEnv } from './helper.js'
import { spawnService } from './service-process.js'

/** Runs a built entry point to its exit; its output collected. */
async function run (script: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [script], { env: { ...env, PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  const [code] = await once(child, 'exit') as [number]
  return { code, stdout, stderr }
}

async function busyPort (t: Test) {
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  return (blocker.address() as { port: number }).port
}

t.test('npm start on a port in use exits 1 saying so, the error\'s code kept, without a stack trace', async t => {
  const port = await busyPort(t)
  const { code, stdout, stderr } = await run('dist/src/server.js',
    testEnv({ HOST: '127.0.0.1', PORT: String(port), DATA_DIR: await seededDataDir(t), LOG_LEVEL: 'info' }))
  t.equal(code, 1)
  const failed = stdout.split('\n').filter(line => line !== '').map(line => JSON.parse(line)).find(line => line.level === 50)
  t.match(failed, { msg: `port ${port} on 127.0.0.1 is already in use: stop what uses it, or set PORT to another port`, err: { code: 'EADDRINUSE' } })
  t.notMatch(stderr, /\n\s+at /, 'no stack trace on stderr')
})

t.test('npm run demo on a port in use says which port and that PORT= changes it', async t => {
  const port = await busyPort(t)
  const { code, stderr } = await run('dist/tools/demo.js', { PORT: String(port), DATA_DIR: await seededDataDir(t), LOG_LEVEL: 'silent' })
  t.equal(code, 1)
  t.match(stderr, `The demo cannot start: port ${port} on 127.0.0.1 is already in use`)
  t.match(stderr, 'PORT=5050 npm run demo')
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
})

t.test('the first lines say what is on and which store is used, never a URL', async t => {
  const port = await freePort()
  const { lines } = await spawnService(t, {
    PORT: String(port), DATA_DIR: await seededDataDir(t), LOG_LEVEL: 'info', MESSENGER_VERIFY_TOKEN: 'startup-verify-token-0123'
  })
  const ready = lines.map(line => JSON.parse(line)).find(line => line.msg === 'service ready')
  t.match(ready, { messenger: true, shopify: false, llm: false, store: 'embedded PGlite in DATA_DIR' })
})
