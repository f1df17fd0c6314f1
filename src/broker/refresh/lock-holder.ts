import type { Logger } from 'pino'
import type { Store } from '../../store/store.js'

/** The holder's lock expired before it presented the refresh token: the refresh is left to whoever holds it now. */
export class LockLostError extends Error {}

/** A refresh lock this process holds. */
export interface HeldLock {
  /**
   * Whether the lock is still this holder's, asked of Redis (by extending it). Checked right
   * before a refresh token is presented, so a holder that outlived its lock (paused, starved,
   * or its lock taken on a primary a failover has just replaced) does not present a token the
   * new holder may already have rotated.
   */
  held(): Promise<boolean>
  release(): Promise<void>
}

/**
 * Keeps an acquired lock alive while its holder works (compare-and-extend every ttl/3)
 * and releases it by compare-and-delete. Losing the lock is logged; correctness does not
 * depend on it, because commits are fenced by the grant's version.
 */
export function holdLock(store: Store, log: Logger, account: string, owner: string, ttlMs: number): HeldLock {
  let lost = false
  const extend = async () => {
    if (!(await store.extendLock(account, owner, ttlMs))) lost = true
    return !lost
  }
  const timer = setInterval(
    () => {
      extend().then(
        (held) => {
          if (!held) log.warn({ account }, 'refresh lock lost before the refresh finished')
        },
        () => {
          /* the store is away; the fence still protects the commit */
        },
      )
    },
    Math.max(100, Math.floor(ttlMs / 3)),
  )
  timer.unref()
  return {
    async held() {
      return !lost && extend().catch(() => false)
    },
    async release(): Promise<void> {
      clearInterval(timer)
      await store.releaseLock(account, owner).catch(() => {})
    },
  }
}
