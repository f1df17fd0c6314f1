import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { DurationHistogram } from './duration-histogram.js'

/** Every metric of one app instance, on its own registry (tests run several apps in one process). */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  return {
    registry,
    /** Labels: method, route, status_code. */
    httpDuration: new DurationHistogram(
      'http_request_duration_seconds',
      'HTTP request duration by route pattern and status',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    ),
    storeErrors: new Counter({
      name: 'store_errors_total',
      help: 'Requests that failed because the store was unreachable',
      registers,
    }),
    tokensIssued: hotCounter({ name: 'access_tokens_issued_total', help: 'Access tokens handed to callers', registers }),
    refreshes: new Counter({
      name: 'refreshes_total',
      help: 'Refresh attempts by provider and outcome',
      labelNames: ['provider', 'outcome'] as const,
      registers,
    }),
    providerLatency: new Histogram({
      name: 'provider_request_duration_seconds',
      help: 'Token endpoint latency by provider and result',
      labelNames: ['provider', 'result'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    lockWaits: new Counter({
      name: 'refresh_lock_waits_total',
      help: 'Refreshes that waited for another holder of the account lock',
      registers,
    }),
    lockWaitSeconds: new Histogram({
      name: 'refresh_lock_wait_seconds',
      help: 'Time spent waiting for another holder of the lock',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    reuseDetections: new Counter({
      name: 'refresh_token_reuse_detected_total',
      help: 'Refresh results fenced off because the grant moved',
      labelNames: ['provider', 'action'] as const,
      registers,
    }),
    unauthenticated: new Counter({
      name: 'unauthenticated_requests_total',
      help: 'Requests refused with 401 (no valid caller JWT): counted, never audited',
      labelNames: ['route'] as const,
      registers,
    }),
    shedRequests: new Counter({
      name: 'requests_shed_total',
      help: 'Requests refused with 503 OVERLOADED, by what was over its limit',
      labelNames: ['reason'] as const,
      registers,
    }),
    clientErrors: new Counter({
      name: 'provider_client_errors_total',
      help: 'invalid_client / unauthorized_client answers: an operator must act',
      labelNames: ['provider'] as const,
      registers,
    }),
    lifetimeAnomalies: new Counter({
      name: 'token_lifetime_anomalies_total',
      help: 'Token lifetimes that were absurd (not a number, not positive, over a year) and were sanitized',
      labelNames: ['provider', 'anomaly'] as const,
      registers,
    }),
    refreshesDeferred: new Counter({
      name: 'refreshes_deferred_total',
      help: 'Refreshes not attempted: shared backoff, open circuit or a full provider queue',
      labelNames: ['provider', 'reason'] as const,
      registers,
    }),
    unreplicatedCommits: new Counter({
      name: 'store_unreplicated_commits_total',
      help: 'Rotated commits no replica acknowledged within REDIS_WAIT_REPLICAS_MS (their tokens were handed out anyway)',
      registers,
    }),
    reappliedCommits: new Counter({
      name: 'store_reapplied_commits_total',
      help: 'Unacknowledged rotated commits written again after a failover: present on the new primary, or superseded by a newer write',
      labelNames: ['result'] as const,
      registers,
    }),
    corruptRecords: new Counter({
      name: 'corrupt_records_total',
      help: 'Stored grants with a field that could not be read (served with the field as null)',
      registers,
    }),
    schedulerLag: new Gauge({
      name: 'scheduler_lag_seconds',
      help: 'How late the oldest due proactive refresh was at the last tick',
      registers,
    }),
  }
}

export type AppMetrics = ReturnType<typeof createMetrics>

/**
 * A per-provider counter on the hot path: counted in a plain map and handed to prom-client
 * when the registry is read (its `collect` hook), so serving a token costs a map update rather
 * than a label lookup.
 */
function hotCounter(o: { name: string; help: string; registers: Registry[] }) {
  const counts = new Map<string, number>()
  const reported = new Map<string, number>()
  new Counter({
    ...o,
    labelNames: ['provider'] as const,
    collect() {
      for (const [provider, n] of counts) {
        const delta = n - (reported.get(provider) ?? 0)
        if (delta > 0) this.inc({ provider }, delta)
        reported.set(provider, n)
      }
    },
  })
  return {
    inc(provider: string): void {
      counts.set(provider, (counts.get(provider) ?? 0) + 1)
    },
  }
}
