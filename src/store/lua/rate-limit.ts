/**
 * One rate-limit hit: counts it and starts the window on the first. Returns the count and
 * the milliseconds left in the window.
 * KEYS[1] counter. ARGV[1] window (ms).
 */
export const rateLimitHit = {
  numberOfKeys: 1,
  lua: `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`,
}
