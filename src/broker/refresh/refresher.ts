import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import {
  AccountNotFoundError, ProviderError, ProviderUnavailableError, ReauthenticationRequiredError, withRetryAfter,
} from '../../errors.js'
import { ProviderCallError } from '../../providers/token-client.js'
import type { TokenSet } from '../../providers/token-response.js'
import type { EventContext } from '../../events/events.js'
import type { GrantRecord } from '../../store/store.js'
import type { BrokerDeps } from '../deps.js'
import { ACCESS_FIELD, REFRESH_FIELD, openSealed } from '../secrets.js'
import { accessView, lastError, type AccessView } from '../views.js'
import { ChangeWaiters } from './change-waiters.js'
import { CircuitBreaker } from './circuit-breaker.js'
import { holdLock } from './lock-holder.js'
import { MAX_ATTEMPTS, callRefresh } from './provider-call.js'
import { refreshDueAt } from './schedule.js'

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
const STORE_RETRY_MS = 100

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
      if (performance.now() >= deadline) return this.fallback(account, null)
    }
  }

  /** Waits for a change of the account (or one poll interval); the answer if it now satisfies. */
  private async waitForHolder(account: string, want: Want, deadline: number): Promise<AccessView | null> {
    const waiter = this.waiters.register(account) // before the read: no missed wake-up
    try {
      const grant = await this.readLive(account)
      if (this.satisfies(grant, want)) return this.view(account, grant)
      await waiter.wait(Math.min(POLL_MS, Math.max(0, deadline - performance.now())))
      const after = await this.readLive(account)
      return this.satisfies(after, want) ? this.view(account, after) : null
    } finally {
      waiter.dispose()
    }
  }

  private async underLock(account: string, owner: string, want: Want, deadline: number): Promise<AccessView> {
    const { store, log, settings } = this.deps
    const lock = holdLock(store, log, account, owner, settings.refreshLockTtlMs)
    try {
      const grant = await this.readLive(account) // someone may have refreshed just before us
      if (this.satisfies(grant, want)) return this.view(account, grant)
      return await this.refreshGrant(account, grant, deadline, want.ctx)
    } finally {
      await lock.release()
    }
  }

  private async refreshGrant(account: string, grant: GrantRecord, deadline: number, ctx: EventContext): Promise<AccessView> {
    const { deps } = this
    const provider = deps.providers.get(grant.provider)
    if (!provider) {
      deps.log.error({ account, provider: grant.provider }, 'account refers to a provider that is not configured')
      return this.fallback(account, grant, new ProviderError('the account\'s provider is not configured'))
    }
    if (!grant.refreshToken) {
      if (this.usable(grant)) return this.view(account, grant)
      await deps.store.markReauthRequired(account, grant.version,
        lastError('REFRESH_TOKEN_MISSING', 'the access token expired and there is no refresh token', deps.clock()), deps.clock())
      deps.events.emit({ ...ctx, event: 'account.reauth_required', account, provider: grant.provider, detail: 'REFRESH_TOKEN_MISSING' })
      throw new ReauthenticationRequiredError(account)
    }
    let tokens: TokenSet
    try {
      tokens = await callRefresh({
        provider,
        endpoints: await deps.endpoints.resolve(provider),
        refreshToken: openSealed(deps.keyRing, account, REFRESH_FIELD, grant.refreshToken),
        scope: grant.scope,
        timeoutMs: deps.settings.providerTimeoutMs,
        deadline,
        breaker: this.breaker(provider.name),
        metrics: deps.metrics,
        clock: () => performance.now(),
      })
    } catch (error) {
      if (error instanceof ProviderCallError) return this.onProviderFailure(account, grant, error, ctx)
      throw error
    }
    return this.commit(account, grant, tokens, provider.reuseGraceSeconds, deadline, ctx)
  }

  /** The fenced commit, before anyone sees the new token; retried while the store is away. */
  private async commit(
    account: string, grant: GrantRecord, tokens: TokenSet, reuseGraceSeconds: number, deadline: number, ctx: EventContext,
  ): Promise<AccessView> {
    const { store, keyRing, clock, log, metrics, events } = this.deps
    const now = clock()
    const expiresAt = tokens.expiresIn === null ? null : now + tokens.expiresIn * 1000
    const commit = {
      accessToken: keyRing.seal(account, ACCESS_FIELD, tokens.accessToken),
      refreshToken: tokens.refreshToken ? keyRing.seal(account, REFRESH_FIELD, tokens.refreshToken) : null,
      expiresAt,
      tokenType: tokens.tokenType,
      scope: tokens.scope,
      meta: tokens.meta ? JSON.stringify(tokens.meta) : null,
    }
    let committed: boolean
    for (;;) {
      try {
        committed = await store.commitRefresh(account, grant.version, commit, now)
        break
      } catch (error) {
        if (performance.now() + STORE_RETRY_MS > deadline) {
          log.error({ account, provider: grant.provider }, 'refresh result could not be committed; the store is unreachable')
          throw error
        }
        await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS))
      }
    }
    if (committed) {
      metrics.refreshes.inc({ provider: grant.provider, outcome: 'success' })
      events.emit({ ...ctx, event: 'account.refreshed', account, provider: grant.provider, outcome: 'success',
        detail: tokens.refreshToken ? 'rotated' : 'kept_refresh_token' })
      store.setRefreshDue(account, tokens.refreshToken || grant.refreshToken
        ? refreshDueAt(expiresAt, this.deps.settings.refreshSkewSeconds, now, account) : null).catch(() => {})
      const next = { ...grant, expiresAt, tokenType: tokens.tokenType, scope: tokens.scope ?? grant.scope }
      return accessView(account, next, tokens.accessToken, now)
    }
    return this.onFenceTripped(account, grant, reuseGraceSeconds, ctx)
  }

  /** The grant moved while we refreshed from it: the same refresh token was used twice. */
  private async onFenceTripped(account: string, grant: GrantRecord, reuseGraceSeconds: number, ctx: EventContext): Promise<AccessView> {
    const { store, log, metrics, clock, events } = this.deps
    const provider = grant.provider
    const current = await this.readLive(account)
    if (current.grantId !== grant.grantId) {
      // Relinked or re-imported meanwhile: a new lineage, not a reuse. Our result is dropped.
      if (this.usable(current)) return this.view(account, current)
      throw withRetryAfter(new ProviderUnavailableError(), 1)
    }
    if (reuseGraceSeconds > 0 && this.usable(current)) {
      metrics.reuseDetections.inc({ provider, action: 'kept_newer' })
      events.emit({ ...ctx, event: 'account.reuse_detected', account, provider, outcome: 'kept_newer' })
      log.warn({ account, provider: provider }, 'refresh token used twice within the provider\'s grace window; kept the newer grant')
      return this.view(account, current)
    }
    metrics.reuseDetections.inc({ provider, action: 'wiped' })
    metrics.refreshes.inc({ provider, outcome: 'reuse_detected' })
    log.warn({ account, provider, event: 'reuse_detected' }, 'refresh token reuse detected; grant wiped')
    await store.markReauthRequired(account, current.version,
      lastError('TOKEN_REUSE_DETECTED', 'the refresh token was used twice; link the account again', clock()), clock())
    events.emit({ ...ctx, event: 'account.reuse_detected', account, provider, outcome: 'wiped' })
    events.emit({ ...ctx, event: 'account.reauth_required', account, provider, detail: 'TOKEN_REUSE_DETECTED' })
    throw new ReauthenticationRequiredError(account)
  }

  private async onProviderFailure(
    account: string, grant: GrantRecord, error: ProviderCallError, ctx: EventContext,
  ): Promise<AccessView> {
    const { store, log, metrics, clock, events } = this.deps
    const provider = grant.provider
    metrics.refreshes.inc({ provider, outcome: error.failure })
    events.emit({ ...ctx, event: 'account.refresh_failed', account, provider, outcome: error.failure, detail: error.reason })
    if (error.failure === 'invalid_grant') {
      const current = await this.readLive(account)
      if (current.version !== grant.version && this.usable(current)) return this.view(account, current) // another refresh won
      log.warn({ account, provider, reason: error.reason }, 'refresh token rejected; the account must be linked again')
      await store.markReauthRequired(account, grant.version,
        lastError('REFRESH_TOKEN_INVALID', `the provider rejected the refresh token (${error.reason})`, clock()), clock())
      events.emit({ ...ctx, event: 'account.reauth_required', account, provider, detail: 'REFRESH_TOKEN_INVALID' })
      throw new ReauthenticationRequiredError(account)
    }
    if (error.failure === 'client') {
      metrics.clientErrors.inc({ provider })
      log.error({ provider, reason: error.reason }, 'the provider rejected the broker\'s client credentials; check the providers file')
      return this.fallback(account, grant, new ProviderError('the provider rejected the broker\'s client credentials'), error)
    }
    log.warn({ account, provider, failure: error.failure, reason: error.reason, status: error.status }, 'refresh failed')
    const failure = error.failure === 'transient'
      ? withRetryAfter(new ProviderUnavailableError(), error.retryAfterSeconds ?? 5)
      : new ProviderError(`the provider answered the refresh with an error (${error.reason})`)
    return this.fallback(account, grant, failure, error)
  }

  /** The current token while it has not expired; otherwise the failure (503 by default). */
  private async fallback(
    account: string, grant: GrantRecord | null, failure: Error = withRetryAfter(new ProviderUnavailableError(), 5),
    cause?: ProviderCallError,
  ): Promise<AccessView> {
    const current = grant ?? (await this.readLive(account))
    if (cause) {
      const code = cause.failure === 'transient' ? 'PROVIDER_UNAVAILABLE' : 'PROVIDER_ERROR'
      await this.deps.store.recordError(account, lastError(code, failure.message, this.deps.clock()), this.deps.clock())
        .catch(() => {})
    }
    if (this.usable(current)) return this.view(account, current)
    throw failure
  }

  private async readLive(account: string): Promise<GrantRecord> {
    const grant = await this.deps.store.getGrant(account)
    if (!grant) throw new AccountNotFoundError(account)
    if (grant.status === 'reauth_required') throw new ReauthenticationRequiredError(account)
    return grant
  }

  private satisfies(grant: GrantRecord, want: Want): boolean {
    const now = this.deps.clock()
    if (grant.version > want.seenVersion) return this.usable(grant)
    return !want.force && grant.accessToken !== null && (grant.expiresAt === null || grant.expiresAt - now > want.minTtlMs)
  }

  private usable(grant: GrantRecord): boolean {
    return grant.accessToken !== null && (grant.expiresAt === null || grant.expiresAt > this.deps.clock())
  }

  private view(account: string, grant: GrantRecord): AccessView {
    return accessView(account, grant, openSealed(this.deps.keyRing, account, ACCESS_FIELD, grant.accessToken!), this.deps.clock())
  }

  private breaker(provider: string): CircuitBreaker {
    let breaker = this.breakers.get(provider)
    if (!breaker) this.breakers.set(provider, (breaker = new CircuitBreaker(() => performance.now())))
    return breaker
  }
}
