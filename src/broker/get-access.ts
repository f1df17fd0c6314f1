import { timingSafeEqual } from 'node:crypto'
import type { EventContext } from '../events/events.js'
import type { BrokerDeps } from './deps.js'
import { freshFor, readLive, usable, viewOf } from './grant-state.js'
import type { Refresher } from './refresh/refresher.js'
import { ACCESS_FIELD, openSealed } from './secrets.js'
import { accessView, type AccessView } from './views.js'

/**
 * The hot path: one store read, and the stored token when it has more than
 * max(min_ttl, skew) left. Otherwise the refresher takes over.
 */
export async function getAccess(
  deps: BrokerDeps, refresher: Refresher, account: string, minTtlSeconds: number, ctx: EventContext,
): Promise<AccessView> {
  const grant = await readLive(deps, account)
  const now = deps.clock()
  const minTtlMs = Math.max(minTtlSeconds, deps.settings.refreshSkewSeconds) * 1000
  if (freshFor(grant, now, minTtlMs)) return viewOf(deps, account, grant)
  return refresher.refresh(account, { minTtlMs, seenVersion: grant.version, force: false, ctx })
}

/**
 * A forced refresh. A caller that names the token the provider just rejected gets the
 * current one without a provider call when that token is no longer current: a hundred
 * callers holding the same stale token cause one refresh.
 */
export async function forceRefresh(
  deps: BrokerDeps, refresher: Refresher, account: string, rejectedToken: string | undefined, ctx: EventContext,
): Promise<AccessView> {
  const grant = await readLive(deps, account)
  if (rejectedToken !== undefined && grant.accessToken !== null) {
    const current = openSealed(deps.keyRing, account, ACCESS_FIELD, grant.accessToken)
    if (!sameSecret(current, rejectedToken) && usable(grant, deps.clock())) {
      return accessView(account, grant, current, deps.clock())
    }
  }
  return refresher.refresh(account, { minTtlMs: 0, seenVersion: grant.version, force: true, ctx })
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}
