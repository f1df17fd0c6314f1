import { PACK_VIEW } from './serving-view.js'

/**
 * The fenced commit of a refresh: written only if the grant is still at the version the
 * refresh started from.
 * KEYS[1] grant hash
 * ARGV expectedVersion, now, at, rt ('' keeps the stored one), expires_at ('' = none),
 *      token_type, scope ('' keeps), meta ('' keeps), channel, account
 * Also sets `iat` (when the broker obtained the token) and `src` = p (from the provider), and
 * clears the failure backoff.
 * Returns the new version, or 0 when the version moved or the grant is gone.
 * Packs the serving view again (`pack_view`) after its writes.
 * Idempotent: a retry of a commit that was applied but whose reply was lost (command
 * timeout) finds its own sealed access token one version on, and gets that version back
 * instead of a 0 that would read as refresh-token reuse. Sealed values never repeat.
 */
export const commitRefresh = {
  numberOfKeys: 1,
  lua: `${PACK_VIEW}
local key = KEYS[1]
local version = redis.call('HGET', key, 'version')
if not version then return 0 end
if version ~= ARGV[1] then
  if tonumber(version) == tonumber(ARGV[1]) + 1 and redis.call('HGET', key, 'at') == ARGV[3] then return tonumber(version) end
  return 0
end
if redis.call('HGET', key, 'status') ~= 'active' then return 0 end
redis.call('HSET', key, 'at', ARGV[3], 'token_type', ARGV[6], 'updated_at', ARGV[2], 'refreshed_at', ARGV[2], 'iat', ARGV[2], 'src', 'p')
if ARGV[4] ~= '' then redis.call('HSET', key, 'rt', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', key, 'expires_at', ARGV[5]) else redis.call('HDEL', key, 'expires_at') end
if ARGV[7] ~= '' then redis.call('HSET', key, 'scope', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', key, 'meta', ARGV[8]) end
redis.call('HDEL', key, 'last_error', 'retry_at', 'fails')
local next = redis.call('HINCRBY', key, 'version', 1)
pack_view(key)
redis.call('PUBLISH', ARGV[9], ARGV[10] .. ' ' .. next)
return next
`,
} as const
