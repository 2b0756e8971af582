import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from '../plugins/core/config.js'
import { buildServer, capabilities, listenProblem } from './app.js'

// Everything this process writes (the embedded store's files above all) is for its own user only.
process.umask(0o077)

let config
try {
  config = loadConfig(process.env, { dotenv: true })
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`${err.message}\n`)
  process.exit(1)
}

const server = await buildServer(config)

// A second signal, or SHUTDOWN_TIMEOUT_MS without a clean close, exits at once (code 1).
closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'shutting down after an error')
  else server.log.info({ signal }, 'shutting down')
  await server.close()
})

try {
  await server.listen({ port: config.PORT, host: config.HOST })
} catch (err) {
  server.log.error({ err }, listenProblem(err as Error, config.HOST, config.PORT))
  await server.close()
  process.exit(1)
}
server.log.info(capabilities(config), 'service ready')
