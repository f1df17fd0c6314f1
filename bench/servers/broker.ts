/** The broker as `npm start` runs it, configured by the environment, on a free loopback port. */
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { serve, usage } from '../support/processes.js'

const config = loadConfig(process.env)
const app = await buildApp(config)
const failed = await app.storage.connect()
if (failed) throw failed
if (config.proactiveRefresh) app.broker.scheduler.start()
const url = await app.listen({ port: 0, host: '127.0.0.1' })
serve({ url }, async (m) => {
  if (m.metrics) return { text: await app.metrics.registry.metrics(), ...usage() }
  return usage()
})
process.on('SIGINT', () => { void app.close().then(() => process.exit(0)) })
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
