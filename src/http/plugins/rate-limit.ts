import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { RateLimitedError, withRetryAfter } from '../../errors.js'
import type { RateLimitBackend } from '../../store/index.js'

const WINDOW_MS = 60_000

/**
 * Per-caller limits, counted by the storage so every instance shares them (in memory on the
 * embedded store). The key is the caller's `sub` and the scope that admitted it; public routes
 * (health, readiness, metrics, the OAuth callback) are not limited. A Redis outage
 * does not turn into 500s: the limiter steps aside and the route answers on its own.
 */
export default fp<{ limits: Record<string, number>; counters: RateLimitBackend | null }>(
  async (app, o) => {
    const limitOf = (scope: string | undefined) => scopeLimit(o.limits, scope)
    /**
     * The scope that admitted the caller: a route that accepts several takes the strictest
     * limit among those the caller holds, so holding an unlimited scope as well buys nothing.
     */
    const scopeOf = (request: FastifyRequest): string | undefined => {
      const scopes = request.routeOptions.config.scopes
      if (!scopes || scopes.length < 2) return scopes?.[0]
      let chosen: string | undefined
      for (const scope of scopes) {
        if (!request.caller?.scopes.has(scope)) continue
        if (chosen === undefined || stricter(limitOf(scope), limitOf(chosen))) chosen = scope
      }
      return chosen
    }
    const limitFor = (request: FastifyRequest) => limitOf(scopeOf(request))
    // No limiter hook at all on a route none of whose scopes has a limit (public routes have none).
    app.addHook('onRoute', (route) => {
      const scopes = route.config?.scopes ?? []
      if (scopes.every((scope) => limitOf(scope) === 0)) route.config = { ...route.config, rateLimit: false }
    })
    await app.register(rateLimit, {
      global: true,
      hook: 'onRequest',
      timeWindow: WINDOW_MS,
      max: (request) => limitFor(request),
      allowList: (request) => !request.caller || limitFor(request) === 0,
      keyGenerator: (request) => `${request.caller?.sub ?? request.ip}|${scopeOf(request) ?? '-'}`,
      skipOnError: true,
      ...(o.counters ? { store: o.counters as unknown as FastifyRateLimitStoreCtor } : {}),
      errorResponseBuilder: (_request, context) => withRetryAfter(new RateLimitedError(), context.ttl / 1000),
    })
  },
  { name: 'rate-limit', dependencies: ['auth'] },
)

/** Requests a minute for a scope (the `*` entry for scopes without their own); 0 = unlimited. */
export const scopeLimit = (limits: Record<string, number>, scope: string | undefined) =>
  (scope !== undefined ? limits[scope] : undefined) ?? limits['*'] ?? 0

/** 0 means unlimited: any limit is stricter than none. */
const stricter = (a: number, b: number) => a !== 0 && (b === 0 || a < b)
