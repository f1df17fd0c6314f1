import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { startupWarnings } from './startup-warnings.js'

function readConfig(): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`token-broker: configuration error: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

const config = readConfig()
const app = await buildApp(config)
const log = app.log

for (const warning of startupWarnings(config)) log.warn(warning)
const storeError = await app.storage.connect()
if (storeError) log.error(`${storeError.message}; retrying in the background`)

if (config.proactiveRefresh) app.broker.scheduler.start()
// Delivers queued webhooks (from before a restart too); app.close() stops it.
if (config.webhookUrls.length > 0) app.webhooks?.start()

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'shutting down after an error')
  else log.info({ signal }, 'shutting down')
  // Keep-alive connections that finish an in-flight request become idle only after close
  // began; sweep them so close does not wait for the clients' keep-alive timeout.
  const sweeper = setInterval(() => app.server.closeIdleConnections(), 100)
  await app.close()
  clearInterval(sweeper)
})

await app.listen({ port: config.port, host: config.host })
if (config.callerAuth.kind === 'secret') {
  log.info(
    `mint a caller token with the same AUTH_JWT_SECRET: npx token-broker token tokens:read accounts:read accounts:write tokens:revoke --sub you`,
  )
}
