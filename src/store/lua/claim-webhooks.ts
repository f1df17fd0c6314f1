/**
 * Claims up to ARGV[2] due webhook deliveries and leases them: each claimed job's due
 * time moves to now + lease, so a worker that dies mid-delivery only delays it. The
 * attempt is counted at claim time, so a job that crashes its worker still runs out.
 * A due id without a job (completed meanwhile) is dropped from the due set.
 * KEYS[1] jobs hash (id -> JSON), KEYS[2] due zset (id -> ms), KEYS[3] attempts hash (id -> n)
 * ARGV[1] now ms, ARGV[2] limit, ARGV[3] lease ms
 * Returns a flat array: id, job JSON, attempt number, id, job JSON, attempt number, ...
 */
export const claimWebhooks = {
  numberOfKeys: 3,
  lua: `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  local job = redis.call('HGET', KEYS[1], id)
  if job then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), id)
    local attempt = redis.call('HINCRBY', KEYS[3], id, 1)
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = job
    claimed[#claimed + 1] = attempt
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return claimed
`,
} as const
