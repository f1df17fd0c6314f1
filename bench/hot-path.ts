/**
 * Benchmark 1, the hot path: GET /tokens/:account/access over 1,000 fresh accounts, on the
 * broker with its near cache, the broker with ACCESS_CACHE_MS=0, a bare Fastify route doing
 * one ioredis GET + JSON.parse, and a bare constant-JSON route. One server process at a time,
 * autocannon in another; CPU per request measured inside the server. Then each server gets the
 * same paced load (BENCH_PACED_RATE requests a second, an open loop timed per request) for the
 * latency comparison at the same load.
 */
import type { LoadResult } from './support/load.js'
import type { TimedSummary } from './support/readers.js'
import { brokerEnv, callerHeaders } from './support/env.js'
import { start, type Child } from './support/processes.js'
import { seedBare, seedGrants } from './support/seed.js'

const ACCOUNTS = 1000
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const pacedRate = Number(process.env.BENCH_PACED_RATE ?? 2000)

export interface Measured extends LoadResult {
  name: string
  cpuMicrosPerRequest: number
  /** Latency (ms) under the same paced load on every server. */
  paced: { rate: number; p50: number; p99: number; max: number }
}

async function measure(
  name: string,
  server: Child & { ready: Record<string, unknown> },
  path: string,
  headers: Record<string, string>,
): Promise<Measured> {
  const [load, readers] = await Promise.all([start('support/load.ts'), start('support/readers.ts')])
  try {
    const run = { url: server.ready.url as string, path, accounts: ACCOUNTS, headers, connections }
    await load.ask({ run: { ...run, seconds: 2 } }) // warm-up: JIT, connections, caches
    const before = await server.ask<{ cpuMicros: number }>({})
    const r = await load.ask<LoadResult>({ run: { ...run, seconds } })
    const after = await server.ask<{ cpuMicros: number }>({})
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
    const pace = { paced: true, urls: [`${run.url}${path}`], accounts: ACCOUNTS, headers, rate: pacedRate, overMs: 1000 }
    await readers.ask({ ...pace, seconds: 1 }) // the readers' connections
    const p = await readers.ask<TimedSummary>({ ...pace, seconds })
    if (p.non200 > 0) throw new Error(`${name}: ${p.non200} non-200 answers under the paced load`)
    const result = {
      name,
      requests: r.requests,
      rps: Math.round(r.rps),
      p50: r.p50,
      p99: r.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      cpuMicrosPerRequest: Math.round((after.cpuMicros - before.cpuMicros) / r.requests),
      paced: { rate: pacedRate, p50: p.p50, p99: p.p99, max: p.max },
    }
    process.stdout.write(
      `  ${name.padEnd(34)} ${String(result.rps).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  ${result.cpuMicrosPerRequest} µs CPU/request; at ${pacedRate} req/s p50 ${p.p50} ms p99 ${p.p99} ms\n`,
    )
    return result
  } finally {
    await Promise.all([load.stop(), readers.stop(), server.stop()])
  }
}

export async function hotPath(redisUrl: string) {
  await seedGrants(redisUrl, ACCOUNTS, (i) => ({
    accessToken: `at-${i}-${'x'.repeat(150)}`,
    refreshToken: `rt-${i}`,
    expiresAt: Date.now() + 4 * 3600_000,
  }))
  await seedBare(redisUrl, ACCOUNTS)
  const dead = 'http://127.0.0.1:9/token' // the hot path never calls the provider
  const runs: Measured[] = []
  runs.push(await measure('constant JSON (bare Fastify)', await start('servers/constant.ts'), '/const/acct-{n}', {}))
  runs.push(
    await measure('bare Fastify + ioredis GET', await start('servers/bare-redis.ts', { BENCH_REDIS_URL: redisUrl }), '/bare/acct-{n}', {}),
  )
  runs.push(
    await measure(
      'broker, ACCESS_CACHE_MS=0',
      await start('servers/broker.ts', brokerEnv(redisUrl, dead, { ACCESS_CACHE_MS: '0' })),
      '/tokens/acct-{n}/access',
      callerHeaders,
    ),
  )
  runs.push(
    await measure(
      'broker, defaults (near cache on)',
      await start('servers/broker.ts', brokerEnv(redisUrl, dead)),
      '/tokens/acct-{n}/access',
      callerHeaders,
    ),
  )
  const [constant, bare, uncached, cached] = runs as [Measured, Measured, Measured, Measured]
  const ratios = {
    cachedOverBareRedis: round(cached.rps / bare.rps),
    uncachedOverBareRedis: round(uncached.rps / bare.rps),
    cachedOverConstant: round(cached.rps / constant.rps),
    cachedP99OverBareRedisP99: round(cached.p99 / bare.p99),
    uncachedP99OverBareRedisP99: round(uncached.p99 / bare.p99),
    cachedPacedP99OverBareRedisP99: round(cached.paced.p99 / bare.paced.p99),
    uncachedPacedP99OverBareRedisP99: round(uncached.paced.p99 / bare.paced.p99),
  }
  process.stdout.write(`  ratios: ${JSON.stringify(ratios)}\n`)
  return { accounts: ACCOUNTS, seconds, connections, pacedRate, runs, ratios }
}

const round = (x: number) => Math.round(x * 100) / 100
