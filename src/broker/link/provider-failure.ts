import type { Logger } from 'pino'
import { ProviderError, ProviderUnavailableError, withRetryAfter } from '../../errors.js'
import type { Endpoints } from '../../providers/endpoints.js'
import type { ProviderConfig } from '../../providers/providers-file.js'
import { ProviderCallError } from '../../providers/token-client.js'
import type { BrokerDeps } from '../deps.js'

/**
 * A provider call that failed while linking, in the contract's terms: timeout, network,
 * 5xx or 429 is 503 PROVIDER_UNAVAILABLE with Retry-After; any other answer is 502
 * PROVIDER_ERROR. Never a 500. The reason is logged, not sent.
 */
export function linkFailure(error: unknown, log: Logger, where: Record<string, unknown>, what: string): unknown {
  if (!(error instanceof ProviderCallError)) return error
  log.warn({ ...where, failure: error.failure, reason: error.reason }, `${what} failed`)
  if (error.failure === 'transient') return withRetryAfter(new ProviderUnavailableError(), error.retryAfterSeconds ?? 5)
  return new ProviderError(`the provider answered the ${what} unexpectedly (${error.reason})`)
}

/** The provider's endpoints (OIDC discovery when it has an issuer), failures mapped as above. */
export async function linkEndpoints(deps: BrokerDeps, provider: ProviderConfig): Promise<Endpoints> {
  try {
    return await deps.endpoints.resolve(provider)
  } catch (error) {
    throw linkFailure(error, deps.log, { provider: provider.name }, 'discovery')
  }
}
