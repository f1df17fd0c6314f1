/**
 * The broker as `npm start` runs it: the compiled JavaScript in dist/ (the runner builds it
 * first), configured by the environment, on a free loopback port.
 */
import { serve, usage } from '../support/processes.js'

type AppModule = typeof import('../../src/app.js')
type ConfigModule = typeof import('../../src/config.js')
const dist = (path: string) => new URL(`../../dist/src/${path}`, import.meta.url).href
const { buildApp } = (await import(dist('app.js'))) as AppModule
const { loadConfig } = (await import(dist('config.js'))) as ConfigModule

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
process.on('SIGINT', () => {
  void app.close().then(() => process.exit(0))
})
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
