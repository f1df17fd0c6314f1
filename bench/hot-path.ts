/**
 * Benchmark 1, the hot path: GET /tokens/:account/access over 1,000 fresh accounts, on the
 * broker with its near cache, the broker with ACCESS_CACHE_MS=0, a bare Fastify route doing
 * one ioredis GET + JSON.parse, and a bare constant-JSON route. One server process at a time,
 * autocannon in another; CPU per request measured inside the server, and Redis's own CPU per
 * request (what every instance shares). Then each server gets the same paced load
 * (BENCH_PACED_RATE requests a second, an open loop timed per request) for the latency
 * comparison at the same load.
 */
import { Redis } from 'ioredis'
import type { LoadResult } from './support/load.js'
import type { TimedSummary } from './support/readers.js'
import { brokerEnv, callerHeaders } from './support/env.js'
import { start, type Child } from './support/processes.js'
import { seedBare, seedGrants } from './support/seed.js'

const ACCOUNTS = 1000
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const pacedRate = Number(process.env.BENCH_PACED_RATE ?? 2000)
const roundsWanted = Number(process.env.BENCH_ROUNDS ?? 3)

export interface Measured extends LoadResult {
  name: string
  cpuMicrosPerRequest: number
  /** Redis's own CPU per request (INFO cpu): the part every instance shares. */
  redisCpuMicrosPerRequest: number
  /** Latency (ms) under the same paced load on every server. */
  paced: { rate: number; p50: number; p99: number; max: number }
}

/** CPU microseconds Redis has used so far (user + system). */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const used = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN)
  return Math.round((used('used_cpu_user') + used('used_cpu_sys')) * 1e6)
}

async function measure(
  redis: Redis,
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
    const redisBefore = await redisCpu(redis)
    const r = await load.ask<LoadResult>({ run: { ...run, seconds } })
    const after = await server.ask<{ cpuMicros: number }>({})
    const redisAfter = await redisCpu(redis)
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
      redisCpuMicrosPerRequest: Math.round((redisAfter - redisBefore) / r.requests),
      paced: { rate: pacedRate, p50: p.p50, p99: p.p99, max: p.max },
    }
    print(result)
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
  const targets: [string, () => Promise<Child & { ready: Record<string, unknown> }>, string, Record<string, string>][] = [
    ['constant JSON (bare Fastify)', () => start('servers/constant.ts'), '/const/acct-{n}', {}],
    ['bare Fastify + ioredis GET', () => start('servers/bare-redis.ts', { BENCH_REDIS_URL: redisUrl }), '/bare/acct-{n}', {}],
    [
      'broker, ACCESS_CACHE_MS=0',
      () => start('servers/broker.ts', brokerEnv(redisUrl, dead, { ACCESS_CACHE_MS: '0' })),
      '/tokens/acct-{n}/access',
      callerHeaders,
    ],
    [
      'broker, defaults (near cache on)',
      () => start('servers/broker.ts', brokerEnv(redisUrl, dead)),
      '/tokens/acct-{n}/access',
      callerHeaders,
    ],
  ]
  // Rounds of all four, one after another: a host whose load drifts moves every target of a
  // round alike, and the median of each figure over the rounds leaves one odd round out.
  const rounds: Measured[][] = []
  const redis = new Redis(redisUrl)
  try {
    for (let round = 1; round <= roundsWanted; round++) {
      process.stdout.write(`  round ${round} of ${roundsWanted}\n`)
      const measured: Measured[] = []
      for (const [name, server, path, headers] of targets) measured.push(await measure(redis, name, await server(), path, headers))
      rounds.push(measured)
    }
  } finally {
    redis.disconnect()
  }
  const runs = targets.map((_, i) => medianOf(rounds.map((r) => r[i]!)))
  const [constant, bare, uncached, cached] = runs as [Measured, Measured, Measured, Measured]
  const ratios = {
    cachedOverBareRedis: ratio(cached.rps / bare.rps),
    uncachedOverBareRedis: ratio(uncached.rps / bare.rps),
    cachedOverConstant: ratio(cached.rps / constant.rps),
    cachedP99OverBareRedisP99: ratio(cached.p99 / bare.p99),
    uncachedP99OverBareRedisP99: ratio(uncached.p99 / bare.p99),
    cachedPacedP99OverBareRedisP99: ratio(cached.paced.p99 / bare.paced.p99),
    uncachedPacedP99OverBareRedisP99: ratio(uncached.paced.p99 / bare.paced.p99),
  }
  // Each round's own throughput ratios: the spread the medians come from.
  const perRound = rounds.map(([, b, u, k]) => ({
    cachedOverBareRedis: ratio(k!.rps / b!.rps),
    uncachedOverBareRedis: ratio(u!.rps / b!.rps),
  }))
  process.stdout.write(`  medians over ${roundsWanted} rounds:\n`)
  for (const m of runs) print(m)
  process.stdout.write(`  ratios: ${JSON.stringify(ratios)}\n  per round: ${JSON.stringify(perRound)}\n`)
  return { accounts: ACCOUNTS, seconds, connections, pacedRate, rounds: roundsWanted, runs, ratios, perRound }
}

const ratio = (x: number) => Math.round(x * 100) / 100

/** Each figure's median over the rounds (not one round's figures). */
function medianOf(ms: Measured[]): Measured {
  const med = (pick: (m: Measured) => number) => {
    const sorted = ms.map(pick).sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }
  const first = ms[0]!
  return {
    name: first.name,
    requests: med((m) => m.requests),
    rps: Math.round(med((m) => m.rps)),
    p50: med((m) => m.p50),
    p99: med((m) => m.p99),
    non2xx: 0,
    errors: 0,
    cpuMicrosPerRequest: Math.round(med((m) => m.cpuMicrosPerRequest)),
    redisCpuMicrosPerRequest: Math.round(med((m) => m.redisCpuMicrosPerRequest)),
    paced: { rate: first.paced.rate, p50: med((m) => m.paced.p50), p99: med((m) => m.paced.p99), max: med((m) => m.paced.max) },
  }
}

function print(m: Measured): void {
  process.stdout.write(
    `  ${m.name.padEnd(34)} ${String(m.rps).padStart(7)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  ${m.cpuMicrosPerRequest} µs CPU/request (Redis ${m.redisCpuMicrosPerRequest} µs); at ${m.paced.rate} req/s p50 ${m.paced.p50} ms p99 ${m.paced.p99} ms\n`,
  )
}
