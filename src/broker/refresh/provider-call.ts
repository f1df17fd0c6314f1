import { randomInt } from 'node:crypto'
import type { AppMetrics } from '../../metrics.js'
import type { Endpoints } from '../../providers/endpoints.js'
import type { ProviderConfig } from '../../providers/providers-file.js'
import { ProviderCallError, requestToken } from '../../providers/token-client.js'
import type { TokenSet } from '../../providers/token-response.js'
import type { CircuitBreaker } from './circuit-breaker.js'

/** At most this many calls to the provider for one refresh (the contract's guarantee 5). */
export const MAX_ATTEMPTS = 3
const BASE_BACKOFF_MS = 200

export interface RefreshCall {
  provider: ProviderConfig
  endpoints: Endpoints
  refreshToken: string
  scope: string | null
  timeoutMs: number
  deadline: number
  breaker: CircuitBreaker
  metrics: AppMetrics
  clock: () => number
}

/**
 * The refresh-token grant with bounded retries: transient failures (timeout, network,
 * 5xx, 429) are retried with exponential backoff and full jitter, honouring Retry-After,
 * as long as the request's deadline allows. Anything else is thrown at once.
 */
export async function callRefresh(c: RefreshCall): Promise<TokenSet> {
  const params: Record<string, string> = {
    grant_type: 'refresh_token', refresh_token: c.refreshToken, ...c.provider.refreshParams,
  }
  // Providers that want the scope on refresh get the grant's own, not the configured default (Microsoft).
  if (c.provider.refreshScope && c.scope) params.scope = c.scope.split(' ').join(c.provider.scopeSeparator)
  for (let attempt = 1; ; attempt++) {
    if (!c.breaker.allow()) {
      throw new ProviderCallError('transient', 'circuit_open', null, c.breaker.retryAfterSeconds())
    }
    const started = c.clock()
    try {
      const tokens = await requestToken(c.provider, c.endpoints.tokenUrl, params, c.timeoutMs)
      c.breaker.succeeded()
      observe(c, started, 'ok')
      return tokens
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error
      observe(c, started, error.failure)
      if (error.failure !== 'transient') {
        c.breaker.succeeded() // the provider answered; it is up
        throw error
      }
      c.breaker.failed()
      const delay = error.retryAfterSeconds !== null
        ? error.retryAfterSeconds * 1000
        : randomInt(BASE_BACKOFF_MS * 2 ** (attempt - 1) + 1)
      if (attempt >= MAX_ATTEMPTS || c.clock() + delay + c.timeoutMs > c.deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}

function observe(c: RefreshCall, started: number, result: string): void {
  c.metrics.providerLatency.observe({ provider: c.provider.name, result }, (c.clock() - started) / 1000)
}
