import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { EventContext } from '../../events/events.js'
import type { GrantRecord } from '../../store/store.js'
import type { BrokerDeps } from '../deps.js'
import { freshFor, readLive, usable, viewOf } from '../grant-state.js'
import type { AccessView } from '../views.js'
import { ChangeWaiters } from './change-waiters.js'
import { CircuitBreaker } from './circuit-breaker.js'
import { holdLock } from './lock-holder.js'
import { MAX_ATTEMPTS } from './provider-call.js'
import { fallback, refreshGrant } from './refresh-grant.js'

/** What a caller will accept: a token fresh enough, or any usable one newer than it saw. */
export interface Want {
  minTtlMs: number
  /** The grant version the caller read; a newer usable grant satisfies a forced refresh. */
  seenVersion: number
  force: boolean
  /** Who asked (the first of the requests sharing this refresh), for the audit trail. */
  ctx: EventContext
}

const POLL_MS = 150

/**
 * Exactly one refresh per expiry: one in-flight promise per account in this process, an
 * owner-token lock per account across processes, and a version-fenced commit that
 * catches a holder who outlived its lock.
 */
export class Refresher {
  private readonly inflight = new Map<string, Promise<AccessView>>()
  private readonly breakers = new Map<string, CircuitBreaker>()
  private readonly waiters: ChangeWaiters
  private readonly budgetMs: number

  constructor(private readonly deps: BrokerDeps) {
    this.waiters = new ChangeWaiters(deps.store)
    this.budgetMs = deps.settings.providerTimeoutMs * MAX_ATTEMPTS + 2000
  }

  /** Shares one refresh among every concurrent request of this process for the account. */
  refresh(account: string, want: Want): Promise<AccessView> {
    const running = this.inflight.get(account)
    if (running) return running
    const work = this.run(account, want).finally(() => this.inflight.delete(account))
    this.inflight.set(account, work)
    return work
  }

  /** Refreshes only if the lock is free right now (the proactive scheduler); null when skipped. */
  async refreshIfIdle(account: string, want: Want): Promise<AccessView | null> {
    if (this.inflight.has(account)) return null
    const owner = randomUUID()
    if (!(await this.deps.store.acquireLock(account, owner, this.deps.settings.refreshLockTtlMs))) return null
    const work = this.underLock(account, owner, want, performance.now() + this.budgetMs)
      .finally(() => this.inflight.delete(account))
    this.inflight.set(account, work)
    return work
  }

  /**
   * Runs `work` holding the account's refresh lock, so no refresh runs meanwhile (revocation).
   * Waits for a holder up to the request budget; past it, `work` runs anyway, because
   * the fenced commit still keeps a late refresh from bringing a deleted grant back.
   */
  async withLock<T>(account: string, work: () => Promise<T>): Promise<T> {
    const { store, log, settings, metrics } = this.deps
    const deadline = performance.now() + this.budgetMs
    for (let attempt = 0; ; attempt++) {
      const owner = randomUUID()
      if (await store.acquireLock(account, owner, settings.refreshLockTtlMs)) {
        const lock = holdLock(store, log, account, owner, settings.refreshLockTtlMs)
        try {
          return await work()
        } finally {
          await lock.release()
        }
      }
      if (performance.now() >= deadline) {
        log.warn({ account }, 'refresh lock still held at the deadline; proceeding without it')
        return work()
      }
      if (attempt === 0) metrics.lockWaits.inc()
      const waiter = this.waiters.register(account)
      await waiter.wait(POLL_MS)
      waiter.dispose()
    }
  }

  private async run(account: string, want: Want): Promise<AccessView> {
    const { store, settings, metrics } = this.deps
    const deadline = performance.now() + this.budgetMs
    let waitStarted: number | null = null
    for (;;) {
      const owner = randomUUID()
      if (await store.acquireLock(account, owner, settings.refreshLockTtlMs)) {
        if (waitStarted !== null) metrics.lockWaitSeconds.observe((performance.now() - waitStarted) / 1000)
        return this.underLock(account, owner, want, deadline)
      }
      if (waitStarted === null) {
        waitStarted = performance.now()
        metrics.lockWaits.inc()
      }
      const done = await this.waitForHolder(account, want, deadline)
      if (done) {
        metrics.lockWaitSeconds.observe((performance.now() - waitStarted) / 1000)
        return done
      }
      if (performance.now() >= deadline) return fallback(this.deps, account, null)
    }
  }

  /** Waits for a change of the account (or one poll interval); the answer if it now satisfies. */
  private async waitForHolder(account: string, want: Want, deadline: number): Promise<AccessView | null> {
    const waiter = this.waiters.register(account) // before the read: no missed wake-up
    try {
      const grant = await readLive(this.deps, account)
      if (this.satisfies(grant, want)) return viewOf(this.deps, account, grant)
      await waiter.wait(Math.min(POLL_MS, Math.max(0, deadline - performance.now())))
      const after = await readLive(this.deps, account)
      return this.satisfies(after, want) ? viewOf(this.deps, account, after) : null
    } finally {
      waiter.dispose()
    }
  }

  private async underLock(account: string, owner: string, want: Want, deadline: number): Promise<AccessView> {
    const { store, log, settings } = this.deps
    const lock = holdLock(store, log, account, owner, settings.refreshLockTtlMs)
    try {
      const grant = await readLive(this.deps, account) // someone may have refreshed just before us
      if (this.satisfies(grant, want)) return viewOf(this.deps, account, grant)
      return await refreshGrant(this.deps, this.breaker(grant.provider), account, grant, deadline, want.ctx)
    } finally {
      await lock.release()
    }
  }

  private satisfies(grant: GrantRecord, want: Want): boolean {
    const now = this.deps.clock()
    if (grant.version > want.seenVersion) return usable(grant, now)
    return !want.force && freshFor(grant, now, want.minTtlMs)
  }

  private breaker(provider: string): CircuitBreaker {
    let breaker = this.breakers.get(provider)
    if (!breaker) this.breakers.set(provider, (breaker = new CircuitBreaker(() => performance.now())))
    return breaker
  }
}
