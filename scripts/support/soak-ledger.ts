import { parseToken, type SoakProvider } from './soak-provider.js'

/**
 * What the soak checks every answer against. A token handed out is wrong when, before the
 * request was sent: its link had been revoked or replaced; the provider had issued the
 * token after its successor (so the successor had been committed: the broker commits
 * before anything else); it had expired; or a caller had already received a newer one.
 */
const EXPIRY_SLACK_MS = 1000

export class SoakLedger {
  wrong = 0
  readonly wrongExamples: string[] = []
  private readonly newest = new Map<string, { lineage: number; n: number; receivedAt: number }>()

  constructor(private readonly provider: SoakProvider) {}

  check(account: string, token: string, sentAt: number, receivedAt: number): void {
    const why = this.problem(account, token, sentAt)
    if (why) {
      this.wrong++
      if (this.wrongExamples.length < 5) this.wrongExamples.push(`${token}: ${why}`)
      return
    }
    const t = parseToken(token)!
    const seen = this.newest.get(account)
    if (!seen || t.lineage > seen.lineage || (t.lineage === seen.lineage && t.n > seen.n)) {
      this.newest.set(account, { lineage: t.lineage, n: t.n, receivedAt })
    }
  }

  private problem(account: string, token: string, sentAt: number): string | null {
    const t = parseToken(token)
    if (!t || t.account !== account) return "not this account's token"
    const lineage = this.provider.lineages.get(account)?.[t.lineage]
    if (!lineage) return 'never issued'
    if (lineage.endedAt !== null && lineage.endedAt < sentAt) return 'its link was revoked or replaced'
    const issued = lineage.issued[t.n]
    if (!issued) return 'never issued'
    // The broker counts a lifetime from when it sent the request, before the provider dates
    // the token, so it never believes in a longer life than the provider's; the second of
    // slack is for lifetimes the broker was told in whole seconds (links and imports).
    if (issued.at + this.provider.lifetimeMs + EXPIRY_SLACK_MS < sentAt) return 'expired'
    const afterNext = lineage.issued.filter((i) => i.n > t.n && !i.orphaned)[1]
    if (afterNext && afterNext.at < sentAt) return 'superseded'
    const seen = this.newest.get(account)
    if (seen && seen.receivedAt < sentAt && (seen.lineage > t.lineage || (seen.lineage === t.lineage && seen.n > t.n))) {
      return 'older than a token already handed out'
    }
    return null
  }
}

/** By then the broker must have refreshed a token: its request path refreshes from here on (expiry minus the effective skew). */
export function dueBy(issuedAt: number, lifetimeMs: number): number {
  return issuedAt + lifetimeMs / 2
}

/**
 * A token's refresh window opens when the broker may first refresh it proactively: expiry
 * minus the effective skew (half the lifetime here) minus the scheduler's jitter (at most
 * a quarter of the skew). Generation 0 tokens (imports, relinks) are left out: their lifetime
 * is not the provider's word.
 */
export function windowOpensAt(issuedAt: number, lifetimeMs: number): number {
  return issuedAt + lifetimeMs / 2 - lifetimeMs / 8
}

/**
 * A refresh before this is early: a wasted call. The broker counts a lifetime from when it
 * sent the token request, the provider from when it answered, so a request that spent
 * longer in transit than the next one moves the broker's window earlier than the
 * provider's clock says, by the difference; on a loaded machine that reaches a second or
 * more. The check leaves another eighth of the lifetime for it, and still catches any
 * refresh in the first quarter of a token's life.
 */
export function earlyBefore(issuedAt: number, lifetimeMs: number): number {
  return windowOpensAt(issuedAt, lifetimeMs) - lifetimeMs / 8
}

/**
 * Refreshes per expiry over the tokens due before `until`: the provider's
 * successful refreshes of such tokens (plus any refresh of a token before its window beyond
 * the forced ones: wasted calls), divided by those tokens (each needed exactly one refresh).
 */
export function refreshesPerExpiry(provider: SoakProvider, until: number, forced: number, killedClient: string | null) {
  let expiries = 0
  let due = 0
  let early = 0
  let replaced = 0
  let lostToKill = 0
  let duplicates = 0
  for (const lineages of provider.lineages.values()) {
    for (const lineage of lineages) {
      const refreshed = new Map(lineage.refreshes.map((r) => [r.from, r.at]))
      for (const token of lineage.issued) {
        if (token.orphaned) {
          // Issued, then its refresh token presented again within the grace: either it was
          // issued to the killed instance, whose commit died with it, or two refreshes raced (a duplicate).
          if (killedClient !== null && token.client === killedClient) lostToKill++
          else duplicates++
          continue
        }
        if (token.n === 0) continue
        const refreshedAt = refreshed.get(token.n)
        if (refreshedAt !== undefined && refreshedAt < earlyBefore(token.at, provider.lifetimeMs)) {
          early++
          continue
        }
        const deadline = dueBy(token.at, provider.lifetimeMs)
        if (deadline >= until) continue
        // A relink or revoke that replaced the token before anyone refreshed it is not an expiry.
        if (lineage.endedAt !== null && refreshedAt === undefined) {
          replaced++
          continue
        }
        expiries++
        if (refreshedAt !== undefined) due++
      }
    }
  }
  const wasted = Math.max(0, early - forced) + duplicates
  return { expiries, due, early, replaced, lostToKill, duplicates, ratio: expiries === 0 ? 0 : (due + wasted) / expiries }
}
