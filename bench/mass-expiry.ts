/**
 * Benchmark 3, mass expiry with short lifetimes: BENCH_MASS_ACCOUNTS (10,000) imported
 * tokens expire within one BENCH_MASS_WINDOW_S window (300 s), REFRESH_SKEW_SECONDS=60, the scheduler on in 2
 * instances (PROVIDER_CONCURRENCY 32, its default), the provider answering after 100 ms, while
 * callers keep reading random accounts.
 * Reported: reads that waited on a refresh (goal 0): slower than the provider's latency while
 * the provider held a token request for that very account; reads as slow without one (a stall
 * of the host or a process, not a refresh) beside them; the provider's peak concurrency (cap:
 * PROVIDER_CONCURRENCY per instance) and the scheduler lag.
 */
import { brokerEnv, callerHeaders } from './support/env.js'
import { start } from './support/processes.js'
import { startProvider, type ProviderCall } from './support/provider.js'
import type { TimedSummary } from './support/readers.js'
import { seedGrants } from './support/seed.js'

const ACCOUNTS = Number(process.env.BENCH_MASS_ACCOUNTS ?? 10_000)
const PROVIDER_MS = 100
const SKEW_S = 60
/** The scenario: 10,000 expiries within 5 minutes. BENCH_MASS_WINDOW_S=30 is ten times that rate. */
const WINDOW_S = Number(process.env.BENCH_MASS_WINDOW_S ?? 300)
/** Seeding 10,000 grants and starting two instances takes 10–20 s here. */
const START_S = 30
const CAP = 32 // PROVIDER_CONCURRENCY's default; the scheduler takes half of it
const INSTANCES = 2

export async function massExpiry(redisUrl: string) {
  const provider = await startProvider({ delayMs: PROVIDER_MS, expiresIn: 3600 })
  // Expiring from SKEW + 15 s + START_S on, over WINDOW: the first grant comes due (minus its
  // jitter, up to 15 s) START_S after now, once seeding is done and the instances run, so the
  // scheduler meets the expiries as they come, not a backlog left by the bench's own setup.
  const first = Date.now() + (SKEW_S + 15 + START_S) * 1000
  // Queued for the scheduler as an import through the API would queue them.
  await seedGrants(redisUrl, ACCOUNTS, (i) => ({
    accessToken: `at-${i}`,
    refreshToken: `rt-${i}`,
    expiresAt: first + Math.floor((i / ACCOUNTS) * WINDOW_S * 1000),
    queueWithSkewMs: SKEW_S * 1000,
  }))
  const env = brokerEnv(redisUrl, provider.tokenUrl, {
    PROACTIVE_REFRESH: 'true',
    REFRESH_SKEW_SECONDS: String(SKEW_S),
    PROVIDER_CONCURRENCY: String(CAP),
    LOG_LEVEL: 'warn',
  })
  const brokers = await Promise.all(Array.from({ length: INSTANCES }, () => start('servers/broker.ts', env)))
  const readers = await start('support/readers.ts')
  let lag = 0
  const sampler = setInterval(() => {
    for (const b of brokers) {
      void b
        .ask<{ text: string }>({ metrics: true })
        .then(({ text }) => {
          const value = Number(/^scheduler_lag_seconds (\S+)$/m.exec(text)?.[1] ?? 0)
          lag = Math.max(lag, value)
        })
        .catch(() => {})
    }
  }, 1000)
  try {
    const seconds = WINDOW_S + START_S + 40
    const urls = brokers.map((b) => `${b.ready.url as string}/tokens/acct-{n}/access`)
    const r = await readers.ask<TimedSummary>({
      steady: true,
      seconds,
      concurrency: 8,
      accounts: ACCOUNTS,
      urls,
      headers: callerHeaders,
      overMs: PROVIDER_MS,
    })
    const waited = waitedOnProvider(r.slow, provider.log())
    const result = {
      accounts: ACCOUNTS,
      windowSeconds: WINDOW_S,
      skewSeconds: SKEW_S,
      providerMs: PROVIDER_MS,
      instances: INSTANCES,
      concurrencyCapPerInstance: CAP,
      providerCalls: provider.calls(),
      peakProviderConcurrency: provider.peak(),
      reads: r.count,
      non200: r.non200,
      readsThatWaitedOnProvider: waited,
      slowReadsWithoutProviderCall: r.over - waited,
      readLatency: { p50: r.p50, p99: r.p99, max: r.max },
      maxSchedulerLagSeconds: lag,
    }
    process.stdout.write(`  ${JSON.stringify(result)}\n`)
    return result
  } finally {
    clearInterval(sampler)
    await Promise.all([readers.stop(), ...brokers.map((b) => b.stop())])
    await provider.close()
  }
}

/** The slow reads that overlap a token request for their own account (seeded refresh token `rt-<n>` for `acct-<n>`). */
function waitedOnProvider(slow: TimedSummary['slow'], calls: ProviderCall[]): number {
  const byToken = new Map<string, ProviderCall[]>()
  for (const call of calls) byToken.set(call.refreshToken, [...(byToken.get(call.refreshToken) ?? []), call])
  return slow.filter((read) => {
    const n = /\/tokens\/acct-(\d+)\//.exec(read.url)?.[1]
    const end = read.at + read.ms
    return (byToken.get(`rt-${n}`) ?? []).some((call) => call.from <= end && call.to >= read.at)
  }).length
}
