import { performance } from 'node:perf_hooks'
import { type BrokerError, ProviderError, ProviderUnavailableError, ReauthenticationRequiredError, withRetryAfter } from '../../errors.js'
import type { EventContext } from '../../events/events.js'
import { ProviderCallError } from '../../providers/token-client.js'
import type { GrantRecord } from '../../store/store.js'
import type { BrokerDeps } from '../deps.js'
import { readLive, tokenOf } from '../grant-state.js'
import { ACCESS_FIELD, REFRESH_FIELD, openSealed } from '../secrets.js'
import { expiryOf } from '../token-expiry.js'
import { issuedToken, lastError, type IssuedToken } from '../results.js'
import { ProviderBusyError } from './endpoint-limiter.js'
import type { HeldLock } from './lock-holder.js'
import { callRefresh, type ObtainedTokens } from './provider-call.js'
import { backoffMs, dueAtFor, usable } from './policy.js'
import type { ProviderGates } from './provider-gates.js'
import type { Want } from './want.js'

const STORE_RETRY_MS = 100
/**
 * How long a commit keeps retrying while the store is away, counted from the provider's
 * answer, not from the request: a rotated refresh token exists nowhere else, so it is not
 * dropped because the provider call used up the request's time.
 */
export const COMMIT_BUDGET_MS = 15_000

/**
 * One refresh of a grant, by the holder of its lock: the provider call, then the fenced
 * commit, and what each failure means for the account.
 */
export async function refreshGrant(
  deps: BrokerDeps,
  gates: ProviderGates,
  lock: HeldLock,
  account: string,
  grant: GrantRecord,
  deadline: number,
  want: Want,
): Promise<IssuedToken> {
  const { ctx } = want
  const provider = deps.providers.get(grant.provider)
  if (!provider) {
    deps.log.error({ account, provider: grant.provider }, 'account refers to a provider that is not configured')
    return answerWithout(deps, account, grant, want, new ProviderError("the account's provider is not configured"))
  }
  if (!grant.refreshToken) {
    if (usable(grant, deps.clock()) && !want.rejected) return tokenOf(deps, account, grant)
    await deps.store.markReauthRequired(
      account,
      grant.version,
      lastError('REFRESH_TOKEN_MISSING', 'the access token expired and there is no refresh token', deps.clock()),
      deps.clock(),
    )
    deps.events.emit({ ...ctx, event: 'account.reauth_required', account, provider: grant.provider, detail: 'REFRESH_TOKEN_MISSING' })
    throw new ReauthenticationRequiredError(account)
  }
  let tokens: ObtainedTokens
  try {
    const { tokenUrl } = await deps.endpoints.resolve(provider)
    tokens = await callRefresh({
      provider,
      tokenUrl,
      account,
      refreshToken: openSealed(deps.keyRing, account, REFRESH_FIELD, grant.refreshToken),
      scope: grant.scope,
      timeoutMs: deps.settings.providerTimeoutMs,
      deadline,
      gate: gates.for(tokenUrl),
      metrics: deps.metrics,
      clock: () => performance.now(),
      now: deps.clock,
      lockHeld: () => lock.held(),
    })
  } catch (error) {
    if (error instanceof ProviderCallError) return onProviderFailure(deps, account, grant, error, want)
    if (error instanceof ProviderBusyError) {
      deps.metrics.refreshesDeferred.inc({ provider: grant.provider, reason: 'queue_full' })
      return answerWithout(deps, account, grant, want, withRetryAfter(new ProviderUnavailableError(), 1))
    }
    throw error
  }
  return commit(deps, account, grant, tokens, provider.reuseGraceSeconds, ctx)
}

/** The fenced commit, before anyone sees the new token; retried while the store is away. */
async function commit(
  deps: BrokerDeps,
  account: string,
  grant: GrantRecord,
  tokens: ObtainedTokens,
  reuseGraceSeconds: number,
  ctx: EventContext,
): Promise<IssuedToken> {
  const { store, keyRing, clock, log, metrics, events } = deps
  // Stored as obtained when asked for (refreshed_at, and the start of its lifetime); handed
  // out with its expiry counted from the request, never from a late reading of the answer.
  const now = tokens.requestedAt
  const expiresAt = expiryOf(deps, grant.provider, tokens.expiresIn, tokens.lifetimeAnomaly, now)
  const sealed = {
    accessToken: keyRing.seal(account, ACCESS_FIELD, tokens.accessToken),
    refreshToken: tokens.refreshToken ? keyRing.seal(account, REFRESH_FIELD, tokens.refreshToken) : null,
    expiresAt,
    tokenType: tokens.tokenType,
    scope: tokens.scope,
    meta: tokens.meta ? JSON.stringify(tokens.meta) : null,
  }
  const giveUpAt = performance.now() + COMMIT_BUDGET_MS
  let committed: boolean
  for (;;) {
    try {
      committed = await store.commitRefresh(account, grant.version, sealed, now)
      break
    } catch (error) {
      if (performance.now() + STORE_RETRY_MS > giveUpAt) {
        log.error({ account, provider: grant.provider }, 'refresh result could not be committed; the store is unreachable')
        throw error
      }
      await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS))
    }
  }
  if (committed) {
    metrics.refreshes.inc({ provider: grant.provider, outcome: 'success' })
    events.emit({
      ...ctx,
      event: 'account.refreshed',
      account,
      provider: grant.provider,
      outcome: 'success',
      detail: tokens.refreshToken ? 'rotated' : 'kept_refresh_token',
    })
    const next: GrantRecord = {
      ...grant,
      version: grant.version + 1,
      expiresAt,
      issuedAt: now,
      refreshedAt: now,
      fromProvider: true,
      retryAt: null,
      failures: 0,
      tokenType: tokens.tokenType,
      scope: tokens.scope ?? grant.scope,
      lastError: null,
      refreshToken: sealed.refreshToken ?? grant.refreshToken,
    }
    store.setRefreshDue(account, dueAtFor(deps, next)).catch(() => {})
    return issuedToken(account, next, tokens.accessToken, clock())
  }
  return onFenceTripped(deps, account, grant, reuseGraceSeconds, ctx)
}

/** The grant moved while we refreshed from it: the same refresh token was used twice. */
async function onFenceTripped(
  deps: BrokerDeps,
  account: string,
  grant: GrantRecord,
  reuseGraceSeconds: number,
  ctx: EventContext,
): Promise<IssuedToken> {
  const { store, log, metrics, clock, events } = deps
  const provider = grant.provider
  const current = await readLive(deps, account)
  if (current.grantId !== grant.grantId) {
    // Relinked or re-imported meanwhile: a new lineage, not a reuse. Our result is dropped.
    if (usable(current, deps.clock())) return tokenOf(deps, account, current)
    throw withRetryAfter(new ProviderUnavailableError(), 1)
  }
  if (reuseGraceSeconds > 0 && usable(current, deps.clock())) {
    metrics.reuseDetections.inc({ provider, action: 'kept_newer' })
    events.emit({ ...ctx, event: 'account.reuse_detected', account, provider, outcome: 'kept_newer' })
    log.warn({ account, provider: provider }, "refresh token used twice within the provider's grace window; kept the newer grant")
    return tokenOf(deps, account, current)
  }
  metrics.reuseDetections.inc({ provider, action: 'wiped' })
  metrics.refreshes.inc({ provider, outcome: 'reuse_detected' })
  log.warn({ account, provider, event: 'reuse_detected' }, 'refresh token reuse detected; grant wiped')
  await store.markReauthRequired(
    account,
    current.version,
    lastError('TOKEN_REUSE_DETECTED', 'the refresh token was used twice; link the account again', clock()),
    clock(),
  )
  events.emit({ ...ctx, event: 'account.reuse_detected', account, provider, outcome: 'wiped' })
  events.emit({ ...ctx, event: 'account.reauth_required', account, provider, detail: 'TOKEN_REUSE_DETECTED' })
  throw new ReauthenticationRequiredError(account)
}

async function onProviderFailure(
  deps: BrokerDeps,
  account: string,
  grant: GrantRecord,
  error: ProviderCallError,
  want: Want,
): Promise<IssuedToken> {
  const { store, log, metrics, clock, events } = deps
  const provider = grant.provider
  const { ctx } = want
  if (error.reason === 'circuit_open') {
    metrics.refreshesDeferred.inc({ provider, reason: 'circuit_open' })
  } else {
    metrics.refreshes.inc({ provider, outcome: error.failure })
    events.emit({ ...ctx, event: 'account.refresh_failed', account, provider, outcome: error.failure, detail: error.reason })
  }
  if (error.failure === 'invalid_grant') {
    const current = await readLive(deps, account)
    if (current.version !== grant.version && usable(current, deps.clock())) return tokenOf(deps, account, current) // another refresh won
    log.warn({ account, provider, reason: error.reason }, 'refresh token rejected; the account must be linked again')
    await store.markReauthRequired(
      account,
      grant.version,
      lastError('REFRESH_TOKEN_INVALID', `the provider rejected the refresh token (${error.reason})`, clock()),
      clock(),
    )
    events.emit({ ...ctx, event: 'account.reauth_required', account, provider, detail: 'REFRESH_TOKEN_INVALID' })
    throw new ReauthenticationRequiredError(account)
  }
  let failure: BrokerError
  if (error.failure === 'client') {
    metrics.clientErrors.inc({ provider })
    log.error({ provider, reason: error.reason }, "the provider rejected the broker's client credentials; check the providers file")
    failure = new ProviderError("the provider rejected the broker's client credentials")
  } else if (error.failure === 'transient') {
    if (error.reason !== 'circuit_open') log.warn({ account, provider, reason: error.reason, status: error.status }, 'refresh failed')
    failure = new ProviderUnavailableError()
  } else {
    log.warn({ account, provider, reason: error.reason, status: error.status }, 'refresh failed')
    failure = new ProviderError(`the provider answered the refresh with an error (${error.reason})`)
  }
  const retryAt = await recordBackoff(deps, account, grant, error, failure.message)
  return answerWithout(deps, account, grant, want, withRetryAfter(failure, (retryAt - clock()) / 1000))
}

/**
 * Every failure but a dead grant backs the account off for all instances: the next round
 * waits for `retry_at`. An open circuit is not the account's fault and does not deepen its
 * backoff; it only waits for the breaker's next trial.
 */
async function recordBackoff(
  deps: BrokerDeps,
  account: string,
  grant: GrantRecord,
  error: ProviderCallError,
  message: string,
): Promise<number> {
  const now = deps.clock()
  const circuitOpen = error.reason === 'circuit_open'
  const failures = circuitOpen ? grant.failures : grant.failures + 1
  const retryAfterMs = error.retryAfterSeconds === null ? null : error.retryAfterSeconds * 1000
  const retryAt = now + (circuitOpen ? (retryAfterMs ?? 1000) : backoffMs(failures, deps.settings.backoffMaxMs, retryAfterMs))
  const code = error.failure === 'transient' ? 'PROVIDER_UNAVAILABLE' : 'PROVIDER_ERROR'
  await deps.store.recordFailure(account, grant.version, { lastError: lastError(code, message, now), retryAt, failures }).catch(() => {
    /* the store is away: this instance still answers; the backoff is best effort */
  })
  deps.store.setRefreshDue(account, retryAt).catch(() => {})
  return retryAt
}

/**
 * The answer when no new token comes: the current one if it has not expired and is not
 * the one the caller reported rejected; otherwise `failure` (503 with Retry-After by default).
 */
export async function answerWithout(
  deps: BrokerDeps,
  account: string,
  grant: GrantRecord | null,
  want: Want,
  failure: Error = withRetryAfter(new ProviderUnavailableError(), 1),
): Promise<IssuedToken> {
  const current = grant ?? (await readLive(deps, account))
  const rejected = want.rejected && current.version <= want.seenVersion
  if (usable(current, deps.clock()) && !rejected) return tokenOf(deps, account, current)
  throw failure
}
