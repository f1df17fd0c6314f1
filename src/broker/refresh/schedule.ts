import { createHash } from 'node:crypto'

/** Spreads proactive refreshes of grants that expire together over up to this much time. */
export const JITTER_MAX_MS = 30_000

/**
 * When a grant should be refreshed ahead of expiry: `skew` plus a jitter before it expires,
 * but never earlier than half its lifetime (short-lived tokens would otherwise refresh
 * in a loop). Null for grants without an expiry. The jitter is derived from the account
 * and expiry, so every instance computes the same time.
 */
export function refreshDueAt(expiresAt: number | null, skewSeconds: number, issuedAt: number, account: string): number | null {
  if (expiresAt === null) return null
  const jitter = createHash('sha256').update(`${account}|${expiresAt}`).digest().readUInt32BE(0) % JITTER_MAX_MS
  const lifetime = Math.max(0, expiresAt - issuedAt)
  return expiresAt - Math.min(skewSeconds * 1000 + jitter, lifetime / 2)
}
