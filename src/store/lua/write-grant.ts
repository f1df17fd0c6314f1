import { PACK_VIEW } from './serving-view.js'

/**
 * Creates a grant, or replaces one of the same provider (import, link).
 * KEYS[1] grant hash
 * ARGV provider, now, scope, token_type, expires_at, at, rt, meta, keepRefresh ('1'|'0'),
 *      channel, account, gid, src ('p' from the provider | 'i' imported)   ('' = field absent)
 * Returns 'created' | 'replaced' | 'conflict'. A replace bumps version, clears last_error and the failure backoff,
 * sets status active, and publishes `account version` on the channel. Packs the serving view
 * again (`pack_view`) after its writes.
 */
export const writeGrant = {
  numberOfKeys: 1,
  lua: `${PACK_VIEW}
local key = KEYS[1]
local provider, now = ARGV[1], ARGV[2]
local current = redis.call('HGET', key, 'provider')
if current and current ~= provider then return 'conflict' end
local outcome = 'replaced'
if not current then
  outcome = 'created'
  redis.call('HSET', key, 'provider', provider, 'created_at', now, 'version', 0)
end
local keep = ARGV[9] == '1' and redis.call('HGET', key, 'rt')
local fields = { scope = ARGV[3], token_type = ARGV[4], expires_at = ARGV[5], at = ARGV[6], rt = ARGV[7], meta = ARGV[8] }
for name, value in pairs(fields) do
  if value == '' then redis.call('HDEL', key, name) else redis.call('HSET', key, name, value) end
end
if keep and ARGV[7] == '' then redis.call('HSET', key, 'rt', keep) end
redis.call('HDEL', key, 'last_error', 'retry_at', 'fails')
redis.call('HSET', key, 'status', 'active', 'updated_at', now, 'gid', ARGV[12], 'iat', now, 'src', ARGV[13])
local version = redis.call('HINCRBY', key, 'version', 1)
pack_view(key)
redis.call('PUBLISH', ARGV[10], ARGV[11] .. ' ' .. version)
return outcome
`,
} as const
