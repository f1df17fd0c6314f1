import { rateLimitHit } from './lua/rate-limit.js'
import type { KeySpace } from './keys.js'
import type { RedisClient } from './redis-client.js'

type Done = (error: Error | null, result?: { current: number; ttl: number }) => void

/** The counters behind per-caller rate limits, in the store interface the HTTP rate limiter expects. */
export interface RateLimitCounters {
  incr(key: string, done: Done, windowMs: number): void
  child(): RateLimitCounters
}

/** What the rate limiter is given as its `store`: a class it constructs once. */
export type RateLimitBackend = new (options: object) => RateLimitCounters

type Hit = (key: string, windowMs: number) => Promise<[number, number]>

/** Counters in Redis, so every instance shares one count per caller and scope. */
export function redisRateLimitCounters(client: RedisClient, keys: KeySpace): RateLimitBackend {
  client.defineCommand('rateLimitHit', rateLimitHit)
  const hit = (client as unknown as { rateLimitHit: Hit }).rateLimitHit.bind(client)
  return class RedisRateLimitCounters implements RateLimitCounters {
    incr(key: string, done: Done, windowMs: number): void {
      hit(keys.rateLimit(key), windowMs).then(
        ([current, ttl]) => done(null, { current, ttl }),
        (error: Error) => done(error),
      )
    }

    child(): RateLimitCounters {
      return this
    }
  }
}
