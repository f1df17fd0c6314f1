import { PACK_VIEW } from './serving-view.js'

/**
 * Records a refresh failure that leaves the grant usable (transient provider trouble) and
 * the shared backoff: no instance calls the provider for this grant before `retry_at`.
 * Fenced like a commit, but the version does not move: a refresh already in flight from
 * this version must still be able to commit. Never creates a grant.
 * KEYS[1] grant hash
 * ARGV expectedVersion, last_error JSON, retry_at (ms), fails (consecutive failures), channel, account
 * Returns 1 when recorded, 0 when the grant is gone, not active, or its version moved.
 * Packs the serving view again (`pack_view`) after its writes.
 */
export const recordFailure = {
  numberOfKeys: 1,
  lua: `${PACK_VIEW}
local key = KEYS[1]
if redis.call('HGET', key, 'version') ~= ARGV[1] then return 0 end
if redis.call('HGET', key, 'status') ~= 'active' then return 0 end
redis.call('HSET', key, 'last_error', ARGV[2], 'retry_at', ARGV[3], 'fails', ARGV[4])
pack_view(key)
redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. ARGV[1])
return 1
`,
} as const
