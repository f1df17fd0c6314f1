/**
 * `npm run bench`: every benchmark in turn (BENCH_ONLY=hot-path,refresh-storm,... picks
 * some), each bounded in time. Raw results go to bench/results/<name>.json, the figures the
 * README cites to bench/results/summary.json, and the hot-path chart to bench/results/hot-path.svg.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { startRedis } from '../scripts/support/redis-server.js'
import { hotPathChart } from './support/chart.js'
import { hotPath } from './hot-path.js'
import { refreshStorm } from './refresh-storm.js'
import { massExpiry } from './mass-expiry.js'
import { footprint } from './footprint.js'

const benchmarks: Record<string, (redisUrl: string) => Promise<Record<string, unknown>>> = {
  'hot-path': hotPath,
  'refresh-storm': refreshStorm,
  'mass-expiry': massExpiry,
  footprint,
}
// The broker runs from dist/, as `npm start` runs it: built from the current source first.
execFileSync('npm', ['run', 'build'], { stdio: 'inherit' })
const only = process.env.BENCH_ONLY?.split(',') ?? Object.keys(benchmarks)
const dir = new URL('./results/', import.meta.url)
mkdirSync(dir, { recursive: true })
const summaryFile = new URL('summary.json', dir)
const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>) : {}
summary.machine = { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version }

for (const name of only) {
  const run = benchmarks[name]
  if (!run) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(benchmarks).join(', ')}`)
  process.stdout.write(`${name}\n`)
  const redis = await startRedis() // a fresh Redis per benchmark: nothing carries over
  try {
    const result = { date: new Date().toISOString(), ...(await run(redis.url)) }
    writeFileSync(new URL(`${name}.json`, dir), `${JSON.stringify(result, null, 2)}\n`)
    summary[name] = result
    if (name === 'hot-path')
      writeFileSync(new URL('hot-path.svg', dir), hotPathChart(result as unknown as Parameters<typeof hotPathChart>[0]))
  } finally {
    await redis.stop()
  }
}
writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`)
