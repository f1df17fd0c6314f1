/**
 * Releases the lock only for its owner (compare-and-delete), so a holder whose lock
 * expired cannot free the next holder's lock.
 * KEYS[1] lock; ARGV[1] owner token. Returns 1 when released.
 */
export const releaseLock = {
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
} as const

/**
 * Extends the lock only for its owner (compare-and-PEXPIRE).
 * KEYS[1] lock; ARGV[1] owner token, ARGV[2] ttl ms. Returns 1 when extended.
 */
export const extendLock = {
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`,
} as const
