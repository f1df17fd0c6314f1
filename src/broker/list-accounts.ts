import type { GrantStatus } from '../store/store.js'
import type { BrokerDeps } from './deps.js'
import { accountViewOf } from './grant-state.js'
import { openCursor, sealCursor } from './list-cursor.js'
import type { AccountView } from './views.js'

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

/**
 * A page of accounts in id order. The cursor is the last id scanned, so filtered pages
 * may be short but never skip or repeat an account; no KEYS/SCAN is involved.
 */
export async function listAccounts(deps: BrokerDeps, q: ListQuery) {
  const accounts: AccountView[] = []
  let after = q.cursor === undefined ? null : openCursor(deps.keyRing, q.cursor)
  let scanned = 0
  while (accounts.length < q.limit && scanned < SCAN_BUDGET) {
    const batchSize = Math.min(q.limit - accounts.length + 50, 500)
    const ids = await deps.store.listAccounts(after, batchSize)
    if (ids.length === 0) return { accounts, next_cursor: null }
    const candidates = ids.filter(q.allowed)
    const grants = await deps.store.getGrants(candidates)
    for (let i = 0; i < candidates.length && accounts.length < q.limit; i++) {
      const g = grants[i]
      after = candidates[i]!
      if (!g || (q.provider && g.provider !== q.provider) || (q.status && g.status !== q.status)) continue
      accounts.push(accountViewOf(deps, after, g))
    }
    if (accounts.length < q.limit) after = ids[ids.length - 1]!
    scanned += ids.length
    if (ids.length < batchSize && accounts.length < q.limit) return { accounts, next_cursor: null }
  }
  return { accounts, next_cursor: after === null ? null : sealCursor(deps.keyRing, after) }
}
