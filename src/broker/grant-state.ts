import { AccountNotFoundError, ReauthenticationRequiredError } from '../errors.js'
import type { GrantRecord, ServingGrant } from '../store/store.js'
import type { BrokerDeps } from './deps.js'
import { ACCESS_FIELD, openSealed } from './secrets.js'
import { accountStateOf, issuedToken, type AccountState, type IssuedToken } from './results.js'

/** The grant, if it exists and can serve tokens; 404 and 409 otherwise. */
export async function readLive(deps: BrokerDeps, account: string): Promise<GrantRecord> {
  return live(account, await deps.store.getGrant(account))
}

/** The grant, or the error a missing or reauth-required one is. */
export function live<G extends ServingGrant>(account: string, grant: G | null): G {
  if (!grant) throw new AccountNotFoundError(account)
  if (grant.status === 'reauth_required') throw new ReauthenticationRequiredError(account)
  return grant
}

/** The caller's answer: the grant with its access token opened. */
export function tokenOf(deps: BrokerDeps, account: string, grant: ServingGrant): IssuedToken {
  return issuedToken(account, grant, openSealed(deps.keyRing, account, ACCESS_FIELD, grant.accessToken!), deps.clock())
}

/** Account metadata; a stored field that cannot be read is reported (logged, counted) and shown as null. */
export function accountState(deps: BrokerDeps, account: string, grant: GrantRecord): AccountState {
  const { state, unreadable } = accountStateOf(account, grant)
  if (unreadable) {
    deps.metrics.corruptRecords.inc()
    deps.log.warn({ account }, 'stored grant has an unreadable field; shown as null')
  }
  return state
}
