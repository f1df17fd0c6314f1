/**
 * Rewrites a grant's sealed tokens under another key (key rotation). Fenced like a commit:
 * only while the grant is still at the version it was read at and still holds the sealed
 * values that were opened. The version does not move and nothing is published: the tokens
 * inside are the same, and a refresh in flight from this version must still commit (a moved
 * version would read as refresh-token reuse and wipe the grant).
 * KEYS[1] grant hash
 * ARGV expectedVersion, at read ('' = absent), rt read ('' = absent), at resealed, rt resealed ('' = leave)
 * Returns 1 when rewritten, 0 when the grant is gone or moved.
 */
export const resealGrant = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
if redis.call('HGET', key, 'version') ~= ARGV[1] then return 0 end
if (redis.call('HGET', key, 'at') or '') ~= ARGV[2] then return 0 end
if (redis.call('HGET', key, 'rt') or '') ~= ARGV[3] then return 0 end
if ARGV[4] ~= '' then redis.call('HSET', key, 'at', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', key, 'rt', ARGV[5]) end
return 1
`,
} as const
