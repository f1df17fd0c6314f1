import { earlyBefore } from '../../scripts/support/soak-ledger.js'
import type { Issued, SoakProvider } from '../../scripts/support/soak-provider.js'
import { waitFor } from '../helpers/wait.js'

/**
 * One extra provider refresh: a refresh token presented a second time (the provider's reuse
 * grace let it through). `orphan` is what the first presentation got, `by` what the second got.
 * Counted by presentation, not by orphaned token: when a late holder's call lands after the
 * others', it orphans their token and its own is orphaned by the next refresh, one extra call
 * either way.
 */
export interface Duplicate {
  account: string
  orphan: Issued
  by: Issued
}

/** Waits until the newest token of every account was issued after `since`. */
export async function everyAccountRefreshedSince(provider: SoakProvider, accounts: string[], since: number, when: string): Promise<void> {
  const behind = () => accounts.filter((a) => provider.current(a)!.issued.at(-1)!.at <= since)
  await waitFor(
    `every account refreshed (${when})`,
    () => {
      const late = behind()
      if (late.length === 0) return true
      throw new Error(`not yet refreshed: ${late.slice(0, 5).join(', ')}${late.length > 5 ? ` and ${late.length - 5} more` : ''}`)
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  )
}

/** What the provider saw: duplicate refreshes (orphaned tokens) and early refreshes (see earlyBefore). */
export function refreshRecord(provider: SoakProvider) {
  const duplicates: Duplicate[] = []
  const early: { account: string; from: number; at: number; opensAt: number }[] = []
  for (const [account, lineages] of provider.lineages) {
    for (const lineage of lineages) {
      // Refresh i issued generation i + 1 (generation 0 came with the link).
      const firstFrom = new Map<number, number>()
      for (const [i, refresh] of lineage.refreshes.entries()) {
        const first = firstFrom.get(refresh.from)
        if (first === undefined) firstFrom.set(refresh.from, i)
        else duplicates.push({ account, orphan: lineage.issued[first + 1]!, by: lineage.issued[i + 1]! })
      }
      for (const refresh of lineage.refreshes) {
        const token = lineage.issued[refresh.from]!
        const opensAt = earlyBefore(token.at, provider.lifetimeMs)
        if (refresh.from > 0 && !token.orphaned && refresh.at < opensAt)
          early.push({ account, from: refresh.from, at: refresh.at, opensAt })
      }
    }
  }
  return { duplicates, early }
}
