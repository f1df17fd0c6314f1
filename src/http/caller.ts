/** An authenticated caller, from its verified JWT. */
export interface Caller {
  sub: string
  scopes: ReadonlySet<string>
  /** The `accounts` claim, or null when the caller is not limited to some accounts. */
  accounts: readonly string[] | null
  mayUse(account: string): boolean
}

/** `accounts` entries match exactly, or by prefix when they end in `*` (only there). */
export function accountMatcher(entries: readonly string[]): (account: string) => boolean {
  const exact = new Set(entries.filter((e) => !e.endsWith('*')))
  const prefixes = entries.filter((e) => e.endsWith('*')).map((e) => e.slice(0, -1))
  return (account) => exact.has(account) || prefixes.some((p) => account.startsWith(p))
}

/** The audit context of a request: who and which request. */
export function eventContext(request: { caller: Caller | null; id: string }): { sub?: string; requestId: string } {
  return request.caller ? { sub: request.caller.sub, requestId: request.id } : { requestId: request.id }
}
