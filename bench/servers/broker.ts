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

/** With BENCH_TIME_ANSWERS=1: when each request arrived and when its answer left (epoch ms, to the microsecond). */
export interface Answer {
  arrived: number
  answered: number
  status: number
}
const answers: Answer[] = []
const epochNow = () => performance.timeOrigin + performance.now()
if (process.env.BENCH_TIME_ANSWERS === '1') {
  // A second listener, after the app's: it only notes times. 'prefinish' is emitted as the
  // answer's last bytes are handed to the socket; 'finish' would wait for the write callbacks,
  // which run only after every answer given in the same turn.
  app.server.on('request', (_req, res) => {
    const arrived = epochNow()
    res.once('prefinish', () => answers.push({ arrived, answered: epochNow(), status: res.statusCode }))
  })
}
serve({ url }, async (m) => {
  if (m.metrics) return { text: await app.metrics.registry.metrics(), ...usage() }
  // The answers timed since the last ask, handed over once.
  if (m.answers) return { answers: answers.splice(0) }
  return usage()
})
process.on('SIGINT', () => {
  void app.close().then(() => process.exit(0))
})
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
