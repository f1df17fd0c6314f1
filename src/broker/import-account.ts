import type { EventContext } from '../events/events.js'
import { InvalidInputError, ProviderNotFoundError } from '../errors.js'
import type { BrokerDeps } from './deps.js'
import { MAX_LIFETIME_SECONDS, sanitizeLifetime, type Lifetime } from '../providers/lifetime.js'
import { expiryOf } from './token-expiry.js'
import { accountState } from './grant-state.js'
import type { AccountState } from './results.js'
import { storeGrant } from './store-grant.js'

export interface ImportRequest {
  provider: string
  refresh_token?: string
  access_token?: string
  token_type?: string
  expires_at?: string
  expires_in?: number
  scope?: string
}

/** Stores an existing grant: created, or replaced when it belongs to the same provider. */
export async function importAccount(
  deps: BrokerDeps,
  account: string,
  req: ImportRequest,
  ctx: EventContext,
): Promise<{ created: boolean; account: AccountState }> {
  if (!deps.providers.has(req.provider)) throw new ProviderNotFoundError(req.provider)
  if (!req.access_token && !req.refresh_token) throw new InvalidInputError(null, 'must have access_token or refresh_token')
  if (req.expires_at !== undefined && req.expires_in !== undefined) {
    throw new InvalidInputError(null, 'must not have both expires_at and expires_in')
  }
  const now = deps.clock()
  const lifetime = req.expires_in !== undefined ? sanitizeLifetime(req.expires_in) : lifetimeUntil(req.expires_at, now)
  const expiresAt = expiryOf(deps, req.provider, lifetime.seconds, lifetime.anomaly, now)
  const { outcome, grant } = await storeGrant(
    deps,
    account,
    {
      provider: req.provider,
      scope: req.scope ?? null,
      tokenType: req.token_type ?? 'Bearer',
      expiresAt: req.access_token ? expiresAt : null,
      accessToken: req.access_token,
      refreshToken: req.refresh_token,
      meta: null,
      fromProvider: false,
      keepRefreshToken: false,
    },
    'imported',
    ctx,
  )
  return { created: outcome === 'created', account: accountState(deps, account, grant) }
}

/** The earliest and latest instants an `expires_at` may name (years 1970 to 9999, after its offset). */
const EARLIEST = 0
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** An `expires_at` as a lifetime from now: in the past is expired now, beyond a year is clamped. */
function lifetimeUntil(value: string | undefined, now: number): Lifetime {
  if (value === undefined) return { seconds: null, anomaly: null }
  const ms = Date.parse(value)
  if (Number.isNaN(ms) || ms < EARLIEST || ms > LATEST) {
    throw new InvalidInputError('expires_at', 'must be an ISO 8601 date-time between 1970 and 9999')
  }
  if (ms - now > MAX_LIFETIME_SECONDS * 1000) return { seconds: MAX_LIFETIME_SECONDS, anomaly: 'too_long' }
  // A past expiry is a fact, not an anomaly: the token is refreshed on first use.
  return { seconds: Math.max(0, Math.ceil((ms - now) / 1000)), anomaly: null }
}
