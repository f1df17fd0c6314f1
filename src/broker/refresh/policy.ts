import { randomInt } from 'node:crypto'
import type { GrantRecord, ServingGrant } from '../../store/store.js'
import type { BrokerDeps } from '../deps.js'

/**
 * When a grant is refreshed. Every rule keeps provider calls proportional to token
 * lifetimes, never to request rates (docs: the refresh policy).
 */

/**
 * The skew that applies to this token: REFRESH_SKEW_SECONDS, but at most half its lifetime,
 * the time from when the broker got it from the provider to its expiry. An imported token's
 * lifetime is unknown (it may be nearly spent), so the whole skew applies to it: it is
 * refreshed once, and the provider's answer then has a known lifetime.
 */
export function effectiveSkewMs(grant: ServingGrant, skewMs: number): number {
  if (grant.expiresAt === null || grant.issuedAt === null || !grant.fromProvider) return skewMs
  return Math.max(0, Math.min(skewMs, (grant.expiresAt - grant.issuedAt) / 2))
}

/**
 * Whether the stored token answers a caller who wants `minTtlMs` left, without a refresh:
 * it has more than max(min_ttl, skew) left, or the broker got it from the provider less
 * than `skew` ago (it is the best the provider gives; asking again would just rotate it).
 */
export function servesWithoutRefresh(grant: ServingGrant, now: number, minTtlMs: number, skewMs: number): boolean {
  if (grant.accessToken === null) return false
  if (grant.expiresAt === null) return true
  const skew = effectiveSkewMs(grant, skewMs)
  const left = grant.expiresAt - now
  if (left > Math.max(minTtlMs, skew)) return true
  return left > 0 && grant.fromProvider && grant.issuedAt !== null && now - grant.issuedAt < skew
}

/** Whether the access token has not expired yet. */
export function usable(grant: ServingGrant, now: number): boolean {
  return grant.accessToken !== null && (grant.expiresAt === null || grant.expiresAt > now)
}

/** Whether the shared backoff still holds provider calls back for this grant. */
export const backingOff = (grant: ServingGrant, now: number) => grant.retryAt !== null && grant.retryAt > now

export const BACKOFF_BASE_MS = 1000

/**
 * The shared backoff after `failures` failed rounds in a row: 1 s doubling up to `maxMs`,
 * with equal jitter (half fixed, half random) so instances and accounts spread out; never
 * sooner than the provider's own Retry-After.
 */
export function backoffMs(failures: number, maxMs: number, retryAfterMs: number | null = null): number {
  const ceiling = Math.min(maxMs, BACKOFF_BASE_MS * 2 ** Math.min(30, Math.max(0, failures - 1)))
  const half = Math.floor(ceiling / 2)
  const delay = ceiling - half + randomInt(half + 1)
  return Math.min(maxMs, Math.max(delay, retryAfterMs ?? 0))
}

/**
 * When the scheduler refreshes a grant ahead of any caller: before the request path's own
 * threshold (the effective skew) by a lead that leaves the provider time to answer, plus a
 * jitter that stays inside the lifetime so grants that expire together spread out; and, for
 * providers that drop unused refresh tokens, before half of that idle time has passed since
 * the last refresh. Null: nothing to schedule. The jitter is derived from the account and
 * expiry, so every instance computes the same time.
 */
export function refreshDueAt(grant: GrantRecord, skewMs: number, idleTtlMs: number | null): number | null {
  if (!grant.refreshToken || grant.status !== 'active') return null
  const since = grant.refreshedAt ?? grant.issuedAt ?? grant.updatedAt
  const keepAlive = idleTtlMs === null ? null : since + idleTtlMs / 2
  if (grant.expiresAt === null) return keepAlive
  const skew = effectiveSkewMs(grant, skewMs)
  const lifetime = grant.issuedAt === null || !grant.fromProvider ? skew * 2 : grant.expiresAt - grant.issuedAt
  // Up to a quarter of the remaining half-lifetime, so the refresh still lands before the skew.
  const spread = Math.min(JITTER_MAX_MS, Math.max(0, lifetime / 2 - skew) / 2 + skew / 4)
  // Without it a grant whose jitter is near 0 falls due at the very threshold where a read stops
  // serving the stored token: a read during the provider call would wait for it.
  const lead = Math.min(LEAD_MAX_MS, skew / 8)
  const due = grant.expiresAt - skew - lead - jitter(grant, spread)
  return keepAlive === null ? due : Math.min(due, keepAlive)
}

/** Spreads proactive refreshes of grants that expire together over up to this much time. */
export const JITTER_MAX_MS = 30_000
/** A proactive refresh starts at least this long (or an eighth of the skew) before a read would wait for it. */
export const LEAD_MAX_MS = 5_000

function jitter(grant: GrantRecord, spread: number): number {
  if (spread < 1) return 0
  let h = 2166136261
  const key = `${grant.grantId}|${grant.expiresAt}`
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0
  return h % Math.floor(spread)
}

/** refreshDueAt with the deployment's skew and the grant's provider's idle time. */
export function dueAtFor(deps: Pick<BrokerDeps, 'providers' | 'settings'>, grant: GrantRecord): number | null {
  const idle = deps.providers.get(grant.provider)?.refreshTokenIdleTtl ?? null
  return refreshDueAt(grant, deps.settings.refreshSkewSeconds * 1000, idle === null ? null : idle * 1000)
}
