import { PACK_VIEW } from './serving-view.js'

/**
 * Wipes a grant's tokens and sets status reauth_required (dead grant, reuse detected).
 * KEYS[1] grant hash
 * ARGV expectedVersion ('' = any), last_error JSON, now, channel, account
 * Returns 1 when marked, 0 when the grant is gone or its version moved.
 * Packs the serving view again (`pack_view`) after its writes.
 */
export const markReauth = {
  numberOfKeys: 1,
  lua: `${PACK_VIEW}
local key = KEYS[1]
local version = redis.call('HGET', key, 'version')
if not version or (ARGV[1] ~= '' and version ~= ARGV[1]) then return 0 end
redis.call('HDEL', key, 'at', 'rt', 'expires_at', 'retry_at', 'fails')
redis.call('HSET', key, 'status', 'reauth_required', 'last_error', ARGV[2], 'updated_at', ARGV[3])
local next = redis.call('HINCRBY', key, 'version', 1)
pack_view(key)
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. next)
return 1
`,
} as const
