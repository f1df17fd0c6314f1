import type { Logger } from 'pino'
import type { Store } from '../../store/store.js'

/**
 * Keeps an acquired lock alive while its holder works (compare-and-extend every ttl/3)
 * and releases it by compare-and-delete. Losing the lock is logged; correctness does not
 * depend on it, because commits are fenced by the grant's version.
 */
export function holdLock(store: Store, log: Logger, account: string, owner: string, ttlMs: number) {
  const timer = setInterval(() => {
    store.extendLock(account, owner, ttlMs).then((held) => {
      if (!held) log.warn({ account }, 'refresh lock lost before the refresh finished')
    }, () => { /* the store is away; the fence still protects the commit */ })
  }, Math.max(100, Math.floor(ttlMs / 3)))
  timer.unref()
  return {
    async release(): Promise<void> {
      clearInterval(timer)
      await store.releaseLock(account, owner).catch(() => {})
    },
  }
}
