/**
 * The key space. Every key of one account carries the account's hash tag, so each
 * per-account script touches one Cluster slot. Account ids cannot contain braces.
 */
/** The refresh-due index is split over shards so no single sorted set grows hot on Cluster. */
export const DUE_SHARDS = 8

function shardOf(account: string): number {
  let h = 0
  for (let i = 0; i < account.length; i++) h = (h * 31 + account.charCodeAt(i)) >>> 0
  return h % DUE_SHARDS
}

export function keySpace(prefix: string) {
  const dueShard = (n: number) => `${prefix}due:{${n}}`
  return {
    refreshDue: (account: string) => dueShard(shardOf(account)),
    refreshDueShards: Array.from({ length: DUE_SHARDS }, (_, n) => dueShard(n)),
    grant: (account: string) => `${prefix}{${account}}:grant`,
    lock: (account: string) => `${prefix}{${account}}:lock`,
    connectState: (state: string) => `${prefix}{${state}}:connect`,
    accounts: `${prefix}accounts`,
    resealProgress: `${prefix}reseal`,
    changedChannel: `${prefix}changed`,
  }
}
export type KeySpace = ReturnType<typeof keySpace>
