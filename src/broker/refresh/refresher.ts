import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { GrantRecord, ServingGrant } from '../../store/store.js'
import type { BrokerDeps } from '../deps.js'
import { readLive, tokenOf } from '../grant-state.js'
import type { IssuedToken } from '../results.js'
import { ProviderUnavailableError, withRetryAfter } from '../../errors.js'
import { ChangeWaiters } from './change-waiters.js'
import { LockLostError, holdLock } from './lock-holder.js'
import { backingOff, servesWithoutRefresh, usable } from './policy.js'
import { MAX_ATTEMPTS } from './provider-call.js'
import { ProviderGates } from './provider-gates.js'
import { answerWithout, refreshGrant } from './refresh-grant.js'
import { covers, type Want } from './want.js'

export type { Want } from './want.js'

const POLL_MS = 150

interface Flight {
  want: Want
  /** null: the scheduler found the lock taken and skipped. */
  work: Promise<IssuedToken | null>
}

const ignore = () => {}

/**
 * Exactly one refresh per expiry: one in-flight refresh per account in this process, an
 * owner-token lock per account across processes, and a version-fenced commit that
 * catches a holder who outlived its lock.
 */
export class Refresher {
  private readonly inflight = new Map<string, Flight>()
  private readonly waiters: ChangeWaiters
  private readonly budgetMs: number
  private readonly gates: ProviderGates

  constructor(private readonly deps: BrokerDeps) {
    this.waiters = new ChangeWaiters(deps.store)
    this.budgetMs = deps.settings.providerTimeoutMs * MAX_ATTEMPTS + 2000
    this.gates = new ProviderGates(deps.settings.providerConcurrency, deps.clock)
  }

  /**
   * Shares the running refresh of the account when its answer satisfies this caller too;
   * otherwise refreshes after it (the lock would serialize them anyway).
   */
  refresh(account: string, want: Want): Promise<IssuedToken> {
    const running = this.inflight.get(account)
    if (running && covers(running.want, want)) {
      return running.work.then((view) => view ?? this.refresh(account, want))
    }
    const deadline = performance.now() + this.budgetMs
    const work = running
      ? running.work.then(ignore, ignore).then(() => this.run(account, want, deadline))
      : this.run(account, want, deadline)
    this.track(account, want, work)
    return work
  }

  /** Refreshes only if nothing else is refreshing the account right now (the scheduler); null when skipped. */
  refreshIfIdle(account: string, want: Want): Promise<IssuedToken | null> {
    if (this.inflight.has(account)) return Promise.resolve(null)
    const work = (async () => {
      const owner = randomUUID()
      if (!(await this.deps.store.acquireLock(account, owner, this.deps.settings.refreshLockTtlMs))) return null
      return this.underLock(account, owner, want, performance.now() + this.budgetMs).catch((error: unknown) => {
        if (error instanceof LockLostError) return null
        throw error
      })
    })()
    this.track(account, want, work)
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

  /** Only its own refresh removes an entry: a later one may have taken the slot meanwhile. */
  private track(account: string, want: Want, work: Promise<IssuedToken | null>): void {
    const flight: Flight = { want, work }
    this.inflight.set(account, flight)
    const done = () => {
      if (this.inflight.get(account) === flight) this.inflight.delete(account)
    }
    work.then(done, done)
  }

  private async run(account: string, want: Want, deadline: number): Promise<IssuedToken> {
    const { store, settings, metrics } = this.deps
    let waitStarted: number | null = null
    for (;;) {
      const owner = randomUUID()
      if (await store.acquireLock(account, owner, settings.refreshLockTtlMs)) {
        if (waitStarted !== null) metrics.lockWaitSeconds.observe((performance.now() - waitStarted) / 1000)
        try {
          return await this.underLock(account, owner, want, deadline)
        } catch (error) {
          if (!(error instanceof LockLostError)) throw error
          // Someone else holds it now and refreshes from the grant as it is: wait for them.
          this.deps.log.warn(
            { account },
            'refresh lock lost before the provider call (the process was paused or starved, or the primary changed); waiting for the new holder',
          )
          continue
        }
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
      if (performance.now() >= deadline) return answerWithout(this.deps, account, null, want)
    }
  }

  /** Waits for a change of the account (or one poll interval); the answer if it now satisfies. */
  private async waitForHolder(account: string, want: Want, deadline: number): Promise<IssuedToken | null> {
    const waiter = this.waiters.register(account) // before the read: no missed wake-up
    try {
      const grant = await readLive(this.deps, account)
      if (this.satisfies(grant, want)) return tokenOf(this.deps, account, grant)
      await waiter.wait(Math.min(POLL_MS, Math.max(0, deadline - performance.now())))
      const after = await readLive(this.deps, account)
      return this.satisfies(after, want) ? tokenOf(this.deps, account, after) : null
    } finally {
      waiter.dispose()
    }
  }

  private async underLock(account: string, owner: string, want: Want, deadline: number): Promise<IssuedToken> {
    const { store, log, settings, clock, metrics } = this.deps
    const lock = holdLock(store, log, account, owner, settings.refreshLockTtlMs)
    try {
      const grant = await readLive(this.deps, account) // someone may have refreshed just before us
      if (this.satisfies(grant, want)) return tokenOf(this.deps, account, grant)
      if (backingOff(grant, clock())) {
        metrics.refreshesDeferred.inc({ provider: grant.provider, reason: 'backoff' })
        return await answerWithout(this.deps, account, grant, want, backoffError(grant, clock()))
      }
      return await refreshGrant(this.deps, this.gates, lock, account, grant, deadline, want)
    } finally {
      await lock.release()
    }
  }

  private satisfies(grant: GrantRecord, want: Want): boolean {
    const now = this.deps.clock()
    if (want.force) return grant.version > want.seenVersion && usable(grant, now)
    return servesWithoutRefresh(grant, now, want.minTtlMs, this.deps.settings.refreshSkewSeconds * 1000)
  }
}

/** 503 with Retry-After until the grant's shared backoff ends. */
export function backoffError(grant: ServingGrant, now: number): Error {
  return withRetryAfter(new ProviderUnavailableError(), ((grant.retryAt ?? now) - now) / 1000)
}
