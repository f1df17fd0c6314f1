import { performance } from 'node:perf_hooks'
import { ProviderError, ProviderUnavailableError, ReauthenticationRequiredError, withRetryAfter } from '../../errors.js'
import type { EventContext } from '../../events/events.js'
import { ProviderCallError } from '../../providers/token-client.js'
import type { TokenSet } from '../../providers/token-response.js'
import type { GrantRecord } from '../../store/store.js'
import type { BrokerDeps } from '../deps.js'
import { readLive, usable, viewOf } from '../grant-state.js'
import { ACCESS_FIELD, REFRESH_FIELD, openSealed } from '../secrets.js'
import { accessView, lastError, type AccessView } from '../views.js'
import type { CircuitBreaker } from './circuit-breaker.js'
import { callRefresh } from './provider-call.js'
import { refreshDueAt } from './schedule.js'

const STORE_RETRY_MS = 100

/**
 * One refresh of a grant, by the holder of its lock: the provider call, then the fenced
 * commit, and what each failure means for the account.
 */
export async function refreshGrant(
  deps: BrokerDeps, breaker: CircuitBreaker, account: string, grant: GrantRecord, deadline: number, ctx: EventContext,
): Promise<AccessView> {
  const provider = deps.providers.get(grant.provider)
  if (!provider) {
    deps.log.error({ account, provider: grant.provider }, 'account refers to a provider that is not configured')
    return fallback(deps, account, grant, new ProviderError('the account\'s provider is not configured'))
  }
  if (!grant.refreshToken) {
    if (usable(grant, deps.clock())) return viewOf(deps, account, grant)
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
      breaker,
      metrics: deps.metrics,
      clock: () => performance.now(),
    })
  } catch (error) {
    if (error instanceof ProviderCallError) return onProviderFailure(deps, account, grant, error, ctx)
    throw error
  }
  return commit(deps, account, grant, tokens, provider.reuseGraceSeconds, deadline, ctx)
}

/** The fenced commit, before anyone sees the new token; retried while the store is away. */
async function commit(
  deps: BrokerDeps, account: string, grant: GrantRecord, tokens: TokenSet, reuseGraceSeconds: number, deadline: number, ctx: EventContext,
): Promise<AccessView> {
  const { store, keyRing, clock, log, metrics, events } = deps
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
      ? refreshDueAt(expiresAt, deps.settings.refreshSkewSeconds, now, account) : null).catch(() => {})
    const next = { ...grant, expiresAt, tokenType: tokens.tokenType, scope: tokens.scope ?? grant.scope }
    return accessView(account, next, tokens.accessToken, now)
  }
  return onFenceTripped(deps, account, grant, reuseGraceSeconds, ctx)
}

/** The grant moved while we refreshed from it: the same refresh token was used twice. */
async function onFenceTripped(deps: BrokerDeps, account: string, grant: GrantRecord, reuseGraceSeconds: number, ctx: EventContext): Promise<AccessView> {
  const { store, log, metrics, clock, events } = deps
  const provider = grant.provider
  const current = await readLive(deps, account)
  if (current.grantId !== grant.grantId) {
    // Relinked or re-imported meanwhile: a new lineage, not a reuse. Our result is dropped.
    if (usable(current, deps.clock())) return viewOf(deps, account, current)
    throw withRetryAfter(new ProviderUnavailableError(), 1)
  }
  if (reuseGraceSeconds > 0 && usable(current, deps.clock())) {
    metrics.reuseDetections.inc({ provider, action: 'kept_newer' })
    events.emit({ ...ctx, event: 'account.reuse_detected', account, provider, outcome: 'kept_newer' })
    log.warn({ account, provider: provider }, 'refresh token used twice within the provider\'s grace window; kept the newer grant')
    return viewOf(deps, account, current)
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

async function onProviderFailure(
  deps: BrokerDeps, account: string, grant: GrantRecord, error: ProviderCallError, ctx: EventContext,
): Promise<AccessView> {
  const { store, log, metrics, clock, events } = deps
  const provider = grant.provider
  metrics.refreshes.inc({ provider, outcome: error.failure })
  events.emit({ ...ctx, event: 'account.refresh_failed', account, provider, outcome: error.failure, detail: error.reason })
  if (error.failure === 'invalid_grant') {
    const current = await readLive(deps, account)
    if (current.version !== grant.version && usable(current, deps.clock())) return viewOf(deps, account, current) // another refresh won
    log.warn({ account, provider, reason: error.reason }, 'refresh token rejected; the account must be linked again')
    await store.markReauthRequired(account, grant.version,
      lastError('REFRESH_TOKEN_INVALID', `the provider rejected the refresh token (${error.reason})`, clock()), clock())
    events.emit({ ...ctx, event: 'account.reauth_required', account, provider, detail: 'REFRESH_TOKEN_INVALID' })
    throw new ReauthenticationRequiredError(account)
  }
  if (error.failure === 'client') {
    metrics.clientErrors.inc({ provider })
    log.error({ provider, reason: error.reason }, 'the provider rejected the broker\'s client credentials; check the providers file')
    return fallback(deps, account, grant, new ProviderError('the provider rejected the broker\'s client credentials'), error)
  }
  log.warn({ account, provider, failure: error.failure, reason: error.reason, status: error.status }, 'refresh failed')
  const failure = error.failure === 'transient'
    ? withRetryAfter(new ProviderUnavailableError(), error.retryAfterSeconds ?? 5)
    : new ProviderError(`the provider answered the refresh with an error (${error.reason})`)
  return fallback(deps, account, grant, failure, error)
}

/** The current token while it has not expired; otherwise the failure (503 by default). */
export async function fallback(
  deps: BrokerDeps, account: string, grant: GrantRecord | null, failure: Error = withRetryAfter(new ProviderUnavailableError(), 5),
  cause?: ProviderCallError,
): Promise<AccessView> {
  const current = grant ?? (await readLive(deps, account))
  if (cause) {
    const code = cause.failure === 'transient' ? 'PROVIDER_UNAVAILABLE' : 'PROVIDER_ERROR'
    await deps.store.recordError(account, lastError(code, failure.message, deps.clock()), deps.clock())
      .catch(() => {})
  }
  if (usable(current, deps.clock())) return viewOf(deps, account, current)
  throw failure
}
