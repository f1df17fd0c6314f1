import { windowOpensAt } from '../../scripts/support/soak-ledger.js'
import type { Issued, SoakProvider } from '../../scripts/support/soak-provider.js'
import { waitFor } from '../helpers/wait.js'

/** A token the provider issued whose refresh token was then presented again: one extra provider refresh. */
export interface Duplicate {
  account: string
  orphan: Issued
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

/** What the provider saw: duplicate refreshes (orphaned tokens) and refreshes before a token's window opened. */
export function refreshRecord(provider: SoakProvider) {
  const duplicates: Duplicate[] = []
  const early: { account: string; from: number; at: number; opensAt: number }[] = []
  for (const [account, lineages] of provider.lineages) {
    for (const lineage of lineages) {
      for (const orphan of lineage.issued.filter((i) => i.orphaned)) duplicates.push({ account, orphan })
      for (const refresh of lineage.refreshes) {
        const token = lineage.issued[refresh.from]!
        const opensAt = windowOpensAt(token.at, provider.lifetimeMs)
        if (refresh.from > 0 && !token.orphaned && refresh.at < opensAt)
          early.push({ account, from: refresh.from, at: refresh.at, opensAt })
      }
    }
  }
  return { duplicates, early }
}
