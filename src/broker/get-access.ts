import { AccountNotFoundError, ProviderUnavailableError, ReauthenticationRequiredError, withRetryAfter } from '../errors.js'
import type { GrantRecord } from '../store/store.js'
import type { BrokerDeps } from './deps.js'
import { ACCESS_FIELD, openSealed } from './secrets.js'
import { accessView, type AccessView } from './views.js'

/** Whether the stored access token has more than `minTtlMs` left (a token without lifetime always has). */
export function isFresh(g: GrantRecord, now: number, minTtlMs: number): boolean {
  return g.accessToken !== null && (g.expiresAt === null || g.expiresAt - now > minTtlMs)
}

/**
 * The hot path: one store read, and the stored token when it has more than
 * max(min_ttl, skew) left. Otherwise the refresher decides.
 */
export async function getAccess(
  deps: BrokerDeps, account: string, minTtlSeconds: number,
  refresh: (account: string, grant: GrantRecord, minTtlMs: number) => Promise<AccessView> = refreshUnavailable(deps),
): Promise<AccessView> {
  const grant = await deps.store.getGrant(account)
  if (!grant) throw new AccountNotFoundError(account)
  if (grant.status === 'reauth_required') throw new ReauthenticationRequiredError(account)
  const now = deps.clock()
  const minTtlMs = Math.max(minTtlSeconds, deps.settings.refreshSkewSeconds) * 1000
  if (isFresh(grant, now, minTtlMs)) {
    return accessView(account, grant, openSealed(deps.keyRing, account, ACCESS_FIELD, grant.accessToken!), now)
  }
  return refresh(account, grant, minTtlMs)
}

/** Until a refresher is wired: serve a token that has not expired, else 503. */
function refreshUnavailable(deps: BrokerDeps) {
  return async (account: string, grant: GrantRecord): Promise<AccessView> => {
    const now = deps.clock()
    if (isFresh(grant, now, 0)) {
      return accessView(account, grant, openSealed(deps.keyRing, account, ACCESS_FIELD, grant.accessToken!), now)
    }
    throw withRetryAfter(new ProviderUnavailableError(), 30)
  }
}
