import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { request } from 'undici'
import { testEnv } from './helper.js'

/** The built server (dist/) in its own process, ready; its stdout log lines collected; killed when `t` ends. */
export async function spawnService (t: Test, env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    env: { ...testEnv({ HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env }), PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const lines: string[] = []
  let partial = ''
  child.stdout.on('data', chunk => {
    const text = partial + String(chunk)
    const parts = text.split('\n')
    partial = parts.pop()!
    lines.push(...parts.filter(line => line !== ''))
  })
  const exited = once(child, 'exit')
  const base = `http://127.0.0.1:${env.PORT}`
  for (let attempt = 0; ; attempt++) {
    if (await request(`${base}/readyz`).then(res => res.statusCode === 200, () => false)) break
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode} before it was ready`)
    if (attempt > 300) throw new Error('the service did not become ready')
    await sleep(100)
  }
  return { child, exited, base, lines }
}
