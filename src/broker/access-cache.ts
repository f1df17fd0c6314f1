import type { ServingGrant, Store } from '../store/store.js'
import { Lru } from '../lru.js'
import { effectiveSkewMs, servesWithoutRefresh } from './refresh/policy.js'

export interface AccessCacheOptions {
  /** How long an entry answers without a store read; 0 turns the cache off. */
  ttlMs: number
  /** Entries kept at most (least recently used dropped first). */
  maxEntries: number
  /** REFRESH_SKEW_SECONDS in ms: an entry never outlives its token's fresh window. */
  skewMs: number
}

/** A grant this instance read, with its access token already opened. */
export interface CachedGrant {
  grant: ServingGrant
  token: string
  readAt: number
}

/**
 * The near cache of opened grants (ACCESS_CACHE_MS). Correct across instances because the
 * store's change feed (published by every write, commit, wipe, delete and recorded failure)
 * drops an account's entry on every instance, and local writes drop it before and after they
 * run. While the feed is down a missed message could leave a stale entry, so then nothing is
 * served from here (the store answers), and everything is dropped once the feed is back.
 * The one exception is a store outage: a token still fresh under the refresh policy is
 * served rather than a 503 (`fallback`).
 *
 * A read that started before a change or a drop of the feed must not store what it read:
 * every drop bumps `epoch`, and `remember` takes the epoch seen before the read.
 */
export class AccessCache {
  private readonly entries: Lru<CachedGrant>
  /** Accounts whose entry is being read again ahead of its end (`renewalDue`). */
  private readonly renewing = new Set<string>()
  private epoch = 0
  private live: boolean
  private readonly unsubscribe: (() => void)[]

  constructor(
    store: Store,
    private readonly o: AccessCacheOptions,
  ) {
    this.entries = new Lru(o.ttlMs > 0 ? o.maxEntries : 0)
    this.live = store.changesLive()
    this.unsubscribe = [
      store.onGrantChanged((account) => this.forget(account)),
      store.onChangesLive((live) => {
        this.live = live
        this.epoch++
        // Back again: whatever is held may have missed a message. Gone: entries stay only as
        // the outage fallback, never as hits (see lookup).
        if (live) this.entries.clear()
      }),
    ]
  }

  get enabled(): boolean {
    return this.o.ttlMs > 0
  }

  /** The token to serve without a store read, when one is held, young and fresh enough. */
  hit(account: string, minTtlMs: number, now: number): CachedGrant | undefined {
    if (!this.live || !this.enabled) return undefined
    const entry = this.lookup(account, minTtlMs, now)
    return entry !== undefined && now - entry.readAt < this.o.ttlMs ? entry : undefined
  }

  /**
   * True once for an entry past half its ACCESS_CACHE_MS (the caller then reads the store again
   * in the background and renews or replaces the entry), so an account asked for at least that
   * often is answered from here without a caller ever waiting on the store. The entry still
   * answers only until ACCESS_CACHE_MS after the read that made or renewed it.
   */
  renewalDue(account: string, entry: CachedGrant, now: number): boolean {
    if (now - entry.readAt < this.o.ttlMs / 2 || this.renewing.has(account)) return false
    this.renewing.add(account)
    return true
  }

  /** The background read `renewalDue` asked for has ended, whatever its outcome. */
  renewalDone(account: string): void {
    this.renewing.delete(account)
  }

  /** During a store outage: the last token this instance read, if it is still fresh. */
  fallback(account: string, minTtlMs: number, now: number): CachedGrant | undefined {
    return this.enabled ? this.lookup(account, minTtlMs, now) : undefined
  }

  /** Taken before a store read, handed to `remember` after it. */
  stamp(): number {
    return this.epoch
  }

  /**
   * The entry held for `account` when a store read (started at `stamp`) returned the very grant
   * it holds, field for field, sealed token included: renewed in place, so a held account is
   * checked against the store every ACCESS_CACHE_MS without opening its token again or keeping a
   * second copy. Undefined when anything differs or changed since `stamp`.
   */
  renewed(account: string, grant: ServingGrant, stamp: number, now: number): CachedGrant | undefined {
    if (!this.enabled || !this.live || stamp !== this.epoch) return undefined
    const entry = this.entries.get(account, now)
    if (entry === undefined || !sameGrant(entry.grant, grant)) return undefined
    entry.readAt = now
    return entry
  }

  /** Keeps a grant that serves without refresh, unless anything changed since `stamp`. */
  remember(account: string, grant: ServingGrant, token: string, stamp: number, now: number): void {
    if (!this.enabled || !this.live || stamp !== this.epoch) return
    this.entries.set(account, { grant, token, readAt: now }, freshUntil(grant, this.o.skewMs))
  }

  forget(account: string): void {
    this.epoch++
    this.entries.delete(account)
  }

  close(): void {
    for (const stop of this.unsubscribe) stop()
    this.entries.clear()
    this.renewing.clear()
  }

  private lookup(account: string, minTtlMs: number, now: number): CachedGrant | undefined {
    const entry = this.entries.get(account, now)
    return entry !== undefined && servesWithoutRefresh(entry.grant, now, minTtlMs, this.o.skewMs) ? entry : undefined
  }
}

const SERVING_KEYS = Object.keys({
  provider: 1,
  status: 1,
  version: 1,
  scope: 1,
  tokenType: 1,
  expiresAt: 1,
  issuedAt: 1,
  fromProvider: 1,
  retryAt: 1,
  accessToken: 1,
} satisfies Record<keyof ServingGrant, 1>) as (keyof ServingGrant)[]

function sameGrant(a: ServingGrant, b: ServingGrant): boolean {
  for (const key of SERVING_KEYS) if (a[key] !== b[key]) return false
  return true
}

/** The end of the window in which the refresh policy serves this token without a refresh. */
function freshUntil(grant: ServingGrant, skewMs: number): number {
  if (grant.expiresAt === null) return Number.MAX_SAFE_INTEGER
  const skew = effectiveSkewMs(grant, skewMs)
  const justObtained = grant.fromProvider && grant.issuedAt !== null ? Math.min(grant.expiresAt, grant.issuedAt + skew) : 0
  return Math.max(grant.expiresAt - skew, justObtained)
}

const WRITES = ['writeGrant', 'commitRefresh', 'markReauthRequired', 'recordFailure', 'deleteGrant'] as const

/**
 * The store as the broker sees it: every grant write drops the account's entry here before
 * and after it runs, so this instance never serves its own overwritten token while the change
 * message is still on its way back from Redis. Everything else passes through unchanged
 * (`instanceof` included).
 */
export function invalidating(store: Store, cache: AccessCache): Store {
  const wrapped = new Map<PropertyKey, unknown>()
  for (const name of WRITES) {
    const write = (store[name] as (account: string, ...rest: never[]) => Promise<unknown>).bind(store)
    wrapped.set(name, async (account: string, ...rest: never[]) => {
      cache.forget(account)
      try {
        return await write(account, ...rest)
      } finally {
        cache.forget(account)
      }
    })
  }
  return new Proxy(store, {
    get(target, prop) {
      const own = wrapped.get(prop)
      if (own !== undefined) return own
      const value = Reflect.get(target, prop, target) as unknown
      if (typeof value !== 'function') return value
      const bound = (value as (...args: unknown[]) => unknown).bind(target)
      wrapped.set(prop, bound)
      return bound
    },
  })
}
