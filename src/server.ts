import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { connectStore } from './store/index.js'

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

for (const warning of config.warnings) log.warn(warning)
if (config.store.kind === 'memory') {
  log.warn('REDIS_URL is not set: using the embedded in-memory store (one instance, nothing survives a restart)')
}
if (!config.encryptionKeys) {
  log.warn('ENCRYPTION_KEYS is not set: tokens are sealed with a key generated for this process only')
}
const storeError = await connectStore(app.broker.deps.store)
if (storeError) log.error({ err: { message: storeError.message } }, 'store not reachable yet; retrying in the background')

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
  log.info(`mint a caller token with the same AUTH_JWT_SECRET: npx token-broker token tokens:read accounts:read accounts:write tokens:revoke --sub you`)
}
