import { randomInt } from 'node:crypto'
import type { AppMetrics } from '../../metrics.js'
import type { ProviderConfig } from '../../providers/providers-file.js'
import { ProviderCallError, requestToken } from '../../providers/token-client.js'
import type { TokenSet } from '../../providers/token-response.js'
import { LockLostError } from './lock-holder.js'
import type { ProviderGate } from './provider-gates.js'

/** At most this many calls to the provider in one refresh round (the contract's guarantee 5). */
export const MAX_ATTEMPTS = 3
const BASE_BACKOFF_MS = 200

export interface RefreshCall {
  provider: ProviderConfig
  tokenUrl: string
  account: string
  refreshToken: string
  scope: string | null
  timeoutMs: number
  deadline: number
  gate: ProviderGate
  metrics: AppMetrics
  /** Monotonic milliseconds. */
  clock: () => number
  /** The broker's clock (epoch ms): when the successful request was sent. */
  now: () => number
  /** Whether the account's refresh lock is still ours (see HeldLock). */
  lockHeld: () => Promise<boolean>
}

/**
 * One round of the refresh-token grant: transient failures (timeout, network, 5xx, 429)
 * are retried with exponential backoff and full jitter, honouring Retry-After, as long as
 * the deadline allows. Each call holds a slot of the endpoint's concurrency cap (a
 * ProviderBusyError when none frees up in time) and asks its circuit breaker first, and
 * presents the refresh token only while the account's lock is still ours (LockLostError).
 * Anything else is thrown at once.
 */
/** Tokens from the provider, with the time (epoch ms) their request was sent: their lifetime counts from there. */
export type ObtainedTokens = TokenSet & { requestedAt: number }

export async function callRefresh(c: RefreshCall): Promise<ObtainedTokens> {
  const params: Record<string, string> = {
    grant_type: 'refresh_token',
    refresh_token: c.refreshToken,
    ...c.provider.refreshParams,
  }
  // Providers that want the scope on refresh get the grant's own, not the configured default (Microsoft).
  if (c.provider.refreshScope && c.scope) params.scope = c.scope.split(' ').join(c.provider.scopeSeparator)
  const { breaker, limiter } = c.gate
  for (let attempt = 1; ; attempt++) {
    const release = await limiter.acquire(c.deadline - c.clock() - c.timeoutMs)
    if (!breaker.allow(c.account)) {
      release()
      throw new ProviderCallError('transient', 'circuit_open', null, breaker.retryAfterSeconds())
    }
    const started = c.clock()
    try {
      if (!(await c.lockHeld())) throw new LockLostError()
      // A stalled process may read the answer long after the provider sent it: the token's
      // lifetime is counted from the request, never from the reading.
      const requestedAt = c.now()
      const tokens = await requestToken(c.provider, c.tokenUrl, params, c.timeoutMs)
      breaker.succeeded()
      observe(c, started, 'ok')
      return { ...tokens, requestedAt }
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error
      observe(c, started, error.failure)
      if (error.failure !== 'transient') {
        breaker.succeeded() // the provider answered; it is up
        throw error
      }
      breaker.failed(c.account)
      const delay = error.retryAfterSeconds !== null ? error.retryAfterSeconds * 1000 : randomInt(BASE_BACKOFF_MS * 2 ** (attempt - 1) + 1)
      if (attempt >= MAX_ATTEMPTS || c.clock() + delay + c.timeoutMs > c.deadline) throw error
      release() // not held while backing off
      await new Promise((resolve) => setTimeout(resolve, delay))
    } finally {
      release()
    }
  }
}

function observe(c: RefreshCall, started: number, result: string): void {
  c.metrics.providerLatency.observe({ provider: c.provider.name, result }, (c.clock() - started) / 1000)
}
