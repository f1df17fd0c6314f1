import { AccountNotFoundError, ReauthenticationRequiredError } from '../errors.js'
import type { GrantRecord } from '../store/store.js'
import type { BrokerDeps } from './deps.js'
import { ACCESS_FIELD, openSealed } from './secrets.js'
import { accessView, type AccessView } from './views.js'

/** The grant, if it exists and can serve tokens; 404 and 409 otherwise. */
export async function readLive(deps: BrokerDeps, account: string): Promise<GrantRecord> {
  const grant = await deps.store.getGrant(account)
  if (!grant) throw new AccountNotFoundError(account)
  if (grant.status === 'reauth_required') throw new ReauthenticationRequiredError(account)
  return grant
}

/** Whether the access token has more than `minTtlMs` left (a token without lifetime always has). */
export function freshFor(grant: GrantRecord, now: number, minTtlMs: number): boolean {
  return grant.accessToken !== null && (grant.expiresAt === null || grant.expiresAt - now > minTtlMs)
}

/** Whether the access token has not expired yet. */
export const usable = (grant: GrantRecord, now: number) => freshFor(grant, now, 0)

/** The caller's answer: the grant with its access token opened. */
export function viewOf(deps: BrokerDeps, account: string, grant: GrantRecord): AccessView {
  return accessView(account, grant, openSealed(deps.keyRing, account, ACCESS_FIELD, grant.accessToken!), deps.clock())
}
