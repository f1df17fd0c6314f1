import { scanPage } from '../paging.js'
import type { GrantRecord, GrantStatus } from '../store/store.js'
import type { BrokerDeps } from './deps.js'
import { accountState } from './grant-state.js'
import { openCursor, sealCursor } from './list-cursor.js'
import type { AccountState } from './results.js'

export interface ListQuery {
  provider?: string
  status?: GrantStatus
  limit: number
  cursor?: string
  /** The caller's `accounts` claim as a predicate. */
  allowed: (account: string) => boolean
}

/** How many index entries one page may scan when filters drop most of them. */
const SCAN_BUDGET = 5000

interface Listed {
  account: string
  grant: GrantRecord | null
}

/**
 * A page of accounts in id order (see scanPage): filtered pages may be short but never skip
 * or repeat an account; no KEYS/SCAN is involved. Only accounts the caller may see are read.
 */
export async function listAccounts(deps: BrokerDeps, q: ListQuery): Promise<{ accounts: AccountState[]; nextCursor: string | null }> {
  const from = q.cursor === undefined ? null : openCursor(deps.keyRing, q.cursor)
  const page = await scanPage<Listed, string>(
    {
      async read(after, count) {
        const ids = await deps.store.listAccounts(after, count)
        const visible = ids.filter(q.allowed)
        const grants = await deps.store.getGrants(visible)
        const byId = new Map(visible.map((account, i) => [account, grants[i] ?? null]))
        return ids.map((account) => ({ account, grant: byId.get(account) ?? null }))
      },
      after: (item) => item.account,
      keep: ({ grant: g }) => g !== null && (!q.provider || g.provider === q.provider) && (!q.status || g.status === q.status),
    },
    from,
    q.limit,
    SCAN_BUDGET,
  )
  return {
    accounts: page.items.map((item) => accountState(deps, item.account, item.grant!)),
    nextCursor: page.end || page.last === null ? null : sealCursor(deps.keyRing, page.last),
  }
}
