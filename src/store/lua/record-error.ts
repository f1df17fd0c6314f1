/**
 * Records a failure that leaves the grant usable; never creates a grant.
 * KEYS[1] grant hash
 * ARGV last_error JSON
 * Returns 1 when recorded, 0 when the grant is gone.
 */
export const recordError = {
  numberOfKeys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_error', ARGV[1])
return 1
`,
} as const
