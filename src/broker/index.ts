import { AccountNotFoundError } from '../errors.js'
import type { BrokerDeps } from './deps.js'
import { getAccess } from './get-access.js'
import { importAccount, type ImportRequest } from './import-account.js'
import { listAccounts, type ListQuery } from './list-accounts.js'
import { accountView } from './views.js'

export type { BrokerDeps } from './deps.js'

/** The domain's operations, bound to their dependencies. Knows nothing of HTTP. */
export function createBroker(deps: BrokerDeps) {
  return {
    deps,
    importAccount: (account: string, req: ImportRequest) => importAccount(deps, account, req),
    listAccounts: (q: ListQuery) => listAccounts(deps, q),
    getAccess: (account: string, minTtlSeconds: number) => getAccess(deps, account, minTtlSeconds),
    async getAccount(account: string) {
      const grant = await deps.store.getGrant(account)
      if (!grant) throw new AccountNotFoundError(account)
      return accountView(account, grant)
    },
    listProviders() {
      return [...deps.providers.values()].map((p) => ({
        name: p.name,
        template: p.template,
        scopes: p.scopes,
        pkce: p.pkce,
        revocation: p.revocation !== 'none' && Boolean(p.revocationUrl),
      }))
    },
  }
}

export type Broker = ReturnType<typeof createBroker>
