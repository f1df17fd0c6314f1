import { AccountNotFoundError } from '../errors.js'
import type { EventContext } from '../events/events.js'
import { revokeAtProvider, type RevocationOutcome } from '../providers/revocation.js'
import type { BrokerDeps } from './deps.js'
import type { Refresher } from './refresh/refresher.js'
import { ACCESS_FIELD, REFRESH_FIELD, openSealed } from './secrets.js'

export interface RevokeResult {
  account: string
  revoked: true
  provider_revocation: RevocationOutcome
}

/**
 * Revokes an account: under its refresh lock (no refresh can race it), revokes at the
 * provider with a timeout, then deletes the grant whatever the provider said. The delete
 * is announced, so waiters wake up to a 404.
 */
export async function revokeAccount(deps: BrokerDeps, refresher: Refresher, account: string, ctx: EventContext): Promise<RevokeResult> {
  if (!(await deps.store.getGrant(account))) throw new AccountNotFoundError(account)
  return refresher.withLock(account, async () => {
    const grant = await deps.store.getGrant(account)
    if (!grant) throw new AccountNotFoundError(account) // revoked by someone else meanwhile
    const provider = deps.providers.get(grant.provider)
    let outcome: RevocationOutcome = 'not_supported'
    if (provider) {
      const open = (field: string, sealed: string | null) => {
        try {
          return sealed ? openSealed(deps.keyRing, account, field, sealed) : null
        } catch {
          return null // unreadable tokens cannot be revoked, but the grant is still deleted
        }
      }
      const tokens = { accessToken: open(ACCESS_FIELD, grant.accessToken), refreshToken: open(REFRESH_FIELD, grant.refreshToken) }
      outcome =
        tokens.accessToken || tokens.refreshToken
          ? await deps.endpoints
              .resolve(provider)
              .then((endpoints) => revokeAtProvider(provider, endpoints, tokens, deps.settings.providerTimeoutMs))
              .catch((): RevocationOutcome => 'failed')
          : 'not_supported'
    }
    await deps.store.deleteGrant(account)
    deps.log.info({ account, provider: grant.provider, provider_revocation: outcome }, 'account revoked')
    deps.events.emit({ ...ctx, event: 'account.revoked', account, provider: grant.provider, outcome })
    return { account, revoked: true as const, provider_revocation: outcome }
  })
}
