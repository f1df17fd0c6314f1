/**
 * The key space: every key and channel the service uses in Redis, and nowhere else.
 * Every key of one account carries the account's hash tag, so each per-account script
 * touches one Cluster slot (account ids cannot contain braces). The webhook queue's keys
 * share one hash tag, so its claim script and transactions stay in one slot too.
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
    grant: (account: string) => `${prefix}{${account}}:grant`,
    lock: (account: string) => `${prefix}{${account}}:lock`,
    /** Account ids, in byte order (a sorted set with every score 0), for listing. */
    accounts: `${prefix}accounts`,
    refreshDue: (account: string) => dueShard(shardOf(account)),
    refreshDueShards: Array.from({ length: DUE_SHARDS }, (_, n) => dueShard(n)),
    connectState: (state: string) => `${prefix}{${state}}:connect`,
    /** The progress of `token-broker keys reseal`: key id, last account done, counts, times. */
    resealProgress: `${prefix}reseal`,
    /** Pub/sub: `account version` after every commit, wipe or delete. */
    changedChannel: `${prefix}changed`,
    /** The audit trail, a capped Stream: one key, so it needs no hash tag on Cluster. */
    audit: `${prefix}audit`,
    webhooks: {
      jobs: `${prefix}{webhooks}:jobs`,
      due: `${prefix}{webhooks}:due`,
      attempts: `${prefix}{webhooks}:attempts`,
    },
    /** One counter per caller and scope, expiring with its window. */
    rateLimit: (key: string) => `${prefix}ratelimit:${key}`,
  }
}
export type KeySpace = ReturnType<typeof keySpace>
