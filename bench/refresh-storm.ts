/**
 * Benchmark 2, the refresh storm: 3 broker instances, 1,000 callers at once on one account
 * whose token just expired, the provider answering after 200 ms. Exactly one provider call is
 * expected. The waiters' extra latency is measured three ways: each caller's latency minus the
 * provider's 200 ms (which also holds the time 1,000 requests take to arrive); for the callers
 * already waiting when the provider answered, how long after that answer each had its token;
 * and, on the instances' own clocks, how long after that answer each waiter's answer left.
 * Before the storm the instances serve 3 s of reads, so that V8 has optimized the hot path.
 */
import { setPriority } from 'node:os'
import { brokerEnv, callerHeaders } from './support/env.js'
import { start } from './support/processes.js'
import { startProvider, type ProviderCall } from './support/provider.js'
import type { TimedSummary } from './support/readers.js'
import type { Answer } from './servers/broker.js'
import { seedGrants } from './support/seed.js'

const PROVIDER_MS = 200
const CALLERS = Number(process.env.BENCH_STORM_CALLERS ?? 1000)

export async function refreshStorm(redisUrl: string) {
  const provider = await startProvider({ delayMs: PROVIDER_MS, expiresIn: 3600 })
  const brokers = await Promise.all(
    [0, 1, 2].map(() => start('servers/broker.ts', brokerEnv(redisUrl, provider.tokenUrl, { BENCH_TIME_ANSWERS: '1' }))),
  )
  const callers = await start('support/readers.ts')
  // The callers yield the CPU to the instances: on a small machine their own work (1,000
  // requests sent, 1,000 answers read) would otherwise delay the answers being measured.
  setPriority(callers.process.pid!, 19)
  try {
    // Every token just expired. Each instance first refreshes an account of its own (acct-1..3)
    // so the storm does not measure a cold start (the first fetch() of a process loads undici).
    // acct-4 is valid: a first round of CALLERS requests on it opens the callers' keep-alive
    // connections, so the storm measures the broker's waiting, not 1,000 TCP handshakes.
    await seedGrants(redisUrl, 5, (i) => ({
      accessToken: `at-${i}`,
      refreshToken: `rt-${i}`,
      expiresAt: i === 4 ? Date.now() + 3600_000 : Date.now() - 1000,
    }))
    await Promise.all(
      brokers.map((b, i) =>
        callers.ask({
          storm: true,
          callers: 10,
          urls: [`${b.ready.url as string}/tokens/acct-${i + 1}/access`],
          headers: callerHeaders,
          overMs: PROVIDER_MS,
        }),
      ),
    )
    provider.reset()
    const at = (account: string) => brokers.map((b) => `${b.ready.url as string}/tokens/${account}/access`)
    // Then the same round again: what 1,000 callers cost with nothing to wait for (the baseline).
    let baseline: TimedSummary | undefined
    for (let round = 0; round < 2; round++) {
      baseline = await callers.ask<TimedSummary>({
        storm: true,
        callers: CALLERS,
        urls: at('acct-4'),
        headers: callerHeaders,
        overMs: PROVIDER_MS,
      })
      if (baseline.non200 > 0) throw new Error(`warm-up: ${baseline.non200} non-200 answers`)
    }
    process.stdout.write(`  the same ${CALLERS} callers on a valid token: p50 ${baseline!.p50} ms p99 ${baseline!.p99} ms\n`)
    // Then 3 s of reads on that valid token, as a serving instance has: V8 has optimized the hot
    // path's code before the storm, as in production, instead of compiling it during the storm.
    await callers.ask({ urls: at('acct-4'), concurrency: 30, seconds: 3, accounts: 1, headers: callerHeaders })
    const urls = at('acct-0')
    await Promise.all(brokers.map((b) => b.ask({ answers: true }))) // what the warm-up left
    // overMs 0: every request kept whole (when sent, how long), to be set against the provider's answer.
    const r = await callers.ask<TimedSummary>({ storm: true, callers: CALLERS, urls, headers: callerHeaders, overMs: 0 })
    const extra = { p50: round(r.p50 - PROVIDER_MS), p99: round(r.p99 - PROVIDER_MS), max: round(r.max - PROVIDER_MS) }
    const afterAnswer = afterProviderAnswer(r.slow, provider.log()[0])
    const answered = (await Promise.all(brokers.map((b) => b.ask<{ answers: Answer[] }>({ answers: true })))).flatMap((a) => a.answers)
    const leftAfter = answersAfterProvider(answered, provider.log()[0])
    // What waiting for the refresh adds beyond the provider's time and what the same callers cost anyway.
    const overBaseline = { p50: round(extra.p50 - baseline!.p50), p99: round(extra.p99 - baseline!.p99) }
    process.stdout.write(
      `  ${CALLERS} callers on 3 instances: ${provider.calls()} provider call(s), ${r.non200} non-200; latency p50 ${r.p50} ms p99 ${r.p99} ms; extra over the provider's ${PROVIDER_MS} ms: p50 ${extra.p50} p99 ${extra.p99} max ${extra.max} ms; over the valid-token baseline as well: p50 ${overBaseline.p50} p99 ${overBaseline.p99} ms; the ${afterAnswer.waiters} callers waiting when the provider answered had their token p50 ${afterAnswer.p50} p99 ${afterAnswer.p99} max ${afterAnswer.max} ms after it; on the instances' own clocks their answers left p50 ${leftAfter.p50} p99 ${leftAfter.p99} max ${leftAfter.max} ms after it\n`,
    )
    return {
      instances: 3,
      callers: CALLERS,
      providerMs: PROVIDER_MS,
      providerCalls: provider.calls(),
      non200: r.non200,
      latency: { p50: r.p50, p99: r.p99, max: r.max },
      extraOverProvider: extra,
      extraOverProviderAndBaseline: overBaseline,
      afterProviderAnswer: afterAnswer,
      answersLeftAfterProviderAnswer: leftAfter,
      validTokenBaseline: { p50: baseline!.p50, p99: baseline!.p99, max: baseline!.max },
    }
  } finally {
    await Promise.all([callers.stop(), ...brokers.map((b) => b.stop())])
    await provider.close()
  }
}

const round = (x: number) => Math.round(x * 10) / 10

/**
 * The waiters' own extra: for each caller that sent its request before the provider answered,
 * how long after that answer its own answer arrived (both clocks epoch-based to the microsecond).
 */
function afterProviderAnswer(requests: TimedSummary['slow'], call: ProviderCall | undefined) {
  return spread(call ? requests.filter((q) => q.at < call.to).map((q) => q.at + q.ms - call.to) : [])
}

/**
 * The same, seen by the instances: for each request that arrived before the provider answered,
 * how long after that answer its own answer left the instance. The callers' figure above also
 * holds the time their one process takes to read 1,000 answers that arrive together.
 */
function answersAfterProvider(answers: Answer[], call: ProviderCall | undefined) {
  return spread(call ? answers.filter((a) => a.arrived < call.to).map((a) => a.answered - call.to) : [])
}

function spread(after: number[]) {
  after.sort((a, b) => a - b)
  const q = (p: number) => round(after[Math.min(after.length - 1, Math.floor(p * after.length))] ?? 0)
  return { waiters: after.length, p50: q(0.5), p99: q(0.99), max: q(1) }
}
