import { timingSafeEqual } from 'node:crypto'
import { StoreUnavailableError } from '../errors.js'
import type { EventContext } from '../events/events.js'
import type { BrokerDeps } from './deps.js'
import { live, readLive, tokenOf } from './grant-state.js'
import type { ServingGrant } from '../store/store.js'
import { backingOff, servesWithoutRefresh, usable } from './refresh/policy.js'
import { backoffError, type Refresher } from './refresh/refresher.js'
import { ACCESS_FIELD, openSealed } from './secrets.js'
import { issuedToken, type IssuedToken } from './results.js'

/**
 * A cache hit of the hot path, answered synchronously (no promise, no microtask): the token
 * when the near cache holds one young and fresh enough for `minTtlSeconds`, else undefined.
 * A hit on an entry past half its age limit also starts one background read that renews it.
 */
export function cachedAccess(deps: BrokerDeps, account: string, minTtlSeconds: number): IssuedToken | undefined {
  const now = deps.clock()
  const cache = deps.accessCache
  const cached = cache?.hit(account, minTtlSeconds * 1000, now)
  if (cache === undefined || cached === undefined) return undefined
  if (cache.renewalDue(account, cached, now)) renewAhead(deps, account)
  return issuedToken(account, cached.grant, cached.token, now, cached.grant)
}

/**
 * Reads the account again off the request path: the entry is renewed when the store holds the
 * same grant, replaced when it holds another that serves as stored, and left to age out
 * otherwise (a refresh due, a failed read, an unreadable token: the next request after its end
 * takes the usual path and reports it). Counts and audits nothing: it answers no one.
 */
function renewAhead(deps: BrokerDeps, account: string): void {
  void readForServing(deps, account).then((read) => {
    try {
      servedAsRead(deps, account, read, 0)
    } catch {
      // an unreadable stored token: the request that next reads it reports it
    } finally {
      deps.accessCache?.renewalDone(account)
    }
  })
}

/** One store read of the serving fields, with the near cache's stamp taken before it; never rejects. */
export type ServingRead = { stamp: number; grant: ServingGrant | null } | { stamp: number; error: unknown }

export function readForServing(deps: BrokerDeps, account: string): Promise<ServingRead> {
  const stamp = deps.accessCache?.stamp() ?? 0
  return deps.store.getServingGrant(account).then(
    (grant) => ({ stamp, grant }),
    (error: unknown) => ({ stamp, error }),
  )
}

/**
 * The read's token when the refresh policy serves it as stored (more than max(min_ttl, skew)
 * left, or just obtained from the provider), kept in the near cache; otherwise undefined
 * (a failed read, no grant, reauth, a refresh or backoff to decide: `getAccess` does that).
 * Throws only when the stored token cannot be opened.
 */
export function servedAsRead(deps: BrokerDeps, account: string, read: ServingRead, minTtlSeconds: number): IssuedToken | undefined {
  if (!holdsActiveGrant(read)) return undefined
  return servedAsStored(deps, account, read.grant, read.stamp, minTtlSeconds * 1000)
}

/**
 * Whether the read found a grant that is served or refreshed: not a failed read, not a missing
 * grant, not one waiting to be linked again (those are answered without the refresher).
 */
export function holdsActiveGrant(read: ServingRead): read is { stamp: number; grant: ServingGrant } {
  return !('error' in read) && read.grant !== null && read.grant.status !== 'reauth_required'
}

function servedAsStored(deps: BrokerDeps, account: string, grant: ServingGrant, stamp: number, minTtlMs: number): IssuedToken | undefined {
  const now = deps.clock()
  if (!servesWithoutRefresh(grant, now, minTtlMs, deps.settings.refreshSkewSeconds * 1000)) return undefined
  const held = deps.accessCache?.renewed(account, grant, stamp, now)
  if (held !== undefined) return issuedToken(account, held.grant, held.token, now, held.grant)
  const view = tokenOf(deps, account, grant)
  deps.accessCache?.remember(account, grant, view.accessToken, stamp, now)
  return view
}

/**
 * The hot path once `cachedAccess` has missed (the cache is not looked up again): one store
 * read of the serving fields (or the one the caller already made: `prior`), and the stored
 * token when it serves as it is. During the shared backoff the valid token is served, an
 * expired one is a 503; otherwise the refresher takes over. While the store is unreachable, a
 * token this instance read and that is still fresh is served instead of a 503.
 */
export async function getAccess(
  deps: BrokerDeps,
  refresher: Refresher,
  account: string,
  minTtlSeconds: number,
  ctx: EventContext,
  prior?: ServingRead,
): Promise<IssuedToken> {
  const minTtlMs = minTtlSeconds * 1000
  const read = prior ?? (await readForServing(deps, account))
  if ('error' in read) {
    const last = read.error instanceof StoreUnavailableError ? deps.accessCache?.fallback(account, minTtlMs, deps.clock()) : undefined
    if (last === undefined) throw read.error
    return issuedToken(account, last.grant, last.token, deps.clock(), last.grant)
  }
  const grant = live(account, read.grant)
  const served = servedAsStored(deps, account, grant, read.stamp, minTtlMs)
  if (served !== undefined) return served
  const now = deps.clock()
  if (backingOff(grant, now)) {
    if (usable(grant, now)) return tokenOf(deps, account, grant)
    deps.metrics.refreshesDeferred.inc({ provider: grant.provider, reason: 'backoff' })
    throw backoffError(grant, now)
  }
  return refresher.refresh(account, { minTtlMs, seenVersion: grant.version, force: false, rejected: false, ctx })
}

/**
 * A forced refresh. A caller that names the token the provider just rejected gets the
 * current one without a provider call when that token is no longer current: a hundred
 * callers holding the same stale token cause one refresh. The rejected token itself is
 * never the answer.
 */
export async function forceRefresh(
  deps: BrokerDeps,
  refresher: Refresher,
  account: string,
  rejectedToken: string | undefined,
  ctx: EventContext,
): Promise<IssuedToken> {
  const grant = await readLive(deps, account)
  let rejected = false
  if (rejectedToken !== undefined && grant.accessToken !== null) {
    const current = openSealed(deps.keyRing, account, ACCESS_FIELD, grant.accessToken)
    rejected = sameSecret(current, rejectedToken)
    if (!rejected && usable(grant, deps.clock())) return issuedToken(account, grant, current, deps.clock())
  }
  return refresher.refresh(account, { minTtlMs: 0, seenVersion: grant.version, force: true, rejected, ctx })
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}
