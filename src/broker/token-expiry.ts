import type { LifetimeAnomaly } from '../providers/lifetime.js'
import type { BrokerDeps } from './deps.js'

const warned = new WeakMap<object, Set<string>>()

/**
 * The expiry (epoch ms) of a token that lives `seconds` from `now` (null: no lifetime). An
 * absurd lifetime a provider or an import gave (already sanitized) is counted each time and
 * logged once per provider and kind in this process, so operators see it without a flood.
 */
export function expiryOf(
  deps: Pick<BrokerDeps, 'log' | 'metrics'>,
  provider: string,
  seconds: number | null,
  anomaly: LifetimeAnomaly | null,
  now: number,
): number | null {
  if (anomaly !== null) {
    deps.metrics.lifetimeAnomalies.inc({ provider, anomaly })
    let seen = warned.get(deps.metrics)
    if (!seen) {
      seen = new Set()
      warned.set(deps.metrics, seen)
    }
    if (!seen.has(`${provider}|${anomaly}`)) {
      seen.add(`${provider}|${anomaly}`)
      deps.log.warn(
        { provider, anomaly },
        anomaly === 'too_long'
          ? 'token lifetime above a year; clamped to a year'
          : 'token lifetime missing a positive value; treated as expired now (refreshed on next use)',
      )
    }
  }
  return seconds === null ? null : now + seconds * 1000
}
