import { commitRefresh } from './commit-refresh.js'

/**
 * A rotated commit applied again after a failover (see DurableCommits): the commit script,
 * unless another holder has the account's refresh lock now. That holder started from the
 * grant as the new primary has it, and its own commit is the one to keep.
 * KEYS[1] grant hash, KEYS[2] the account's lock
 * ARGV as commitRefresh
 * Returns -1 when the lock is held, else what commitRefresh returns.
 */
export const reapplyCommit = {
  numberOfKeys: 2,
  lua: `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
${commitRefresh.lua}`,
} as const
