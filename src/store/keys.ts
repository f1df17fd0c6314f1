/**
 * The key space. Every key of one account carries the account's hash tag, so each
 * per-account script touches one Cluster slot. Account ids cannot contain braces.
 */
export function keySpace(prefix: string) {
  return {
    grant: (account: string) => `${prefix}{${account}}:grant`,
    lock: (account: string) => `${prefix}{${account}}:lock`,
    connectState: (state: string) => `${prefix}{${state}}:connect`,
    accounts: `${prefix}accounts`,
    changedChannel: `${prefix}changed`,
  }
}
export type KeySpace = ReturnType<typeof keySpace>
