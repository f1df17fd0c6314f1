import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { RateLimitedError, withRetryAfter } from '../../errors.js'
import type { RedisClient } from '../../store/redis-client.js'

const WINDOW_MS = 60_000

/**
 * Per-caller limits, counted in Redis so every instance shares them (in memory on the
 * embedded store). The key is the caller's `sub` and the route's scope; public routes
 * (health, readiness, metrics, the OAuth callback) are not limited. A Redis outage
 * does not turn into 500s: the limiter steps aside and the route answers on its own.
 */
export default fp<{ limits: Record<string, number>; redis: RedisClient | null; prefix: string }>(async (app, o) => {
  const limitFor = (request: FastifyRequest) => {
    const scope = request.routeOptions.config.scopes?.[0]
    return (scope !== undefined ? o.limits[scope] : undefined) ?? o.limits['*'] ?? 0
  }
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: WINDOW_MS,
    max: (request) => limitFor(request),
    allowList: (request) => !request.caller || limitFor(request) === 0,
    keyGenerator: (request) => `${request.caller?.sub ?? request.ip}|${request.routeOptions.config.scopes?.[0] ?? '-'}`,
    skipOnError: true,
    ...(o.redis ? { redis: o.redis, nameSpace: `${o.prefix}ratelimit:` } : {}),
    errorResponseBuilder: (_request, context) => withRetryAfter(new RateLimitedError(), context.ttl / 1000),
  })
}, { name: 'rate-limit', dependencies: ['auth'] })
