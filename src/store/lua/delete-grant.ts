/**
 * Deletes a grant and announces it.
 * KEYS[1] grant hash
 * ARGV channel, account
 * Returns 1 when a grant was deleted, 0 when there was none.
 */
export const deleteGrant = {
  numberOfKeys: 1,
  lua: `
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. (tonumber(version) + 1))
return 1
`,
} as const
