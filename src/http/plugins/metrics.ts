import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

export interface AppMetrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status_code'>
  storeErrors: Counter<'code'>
  tokensIssued: Counter<'provider'>
}

/** One registry per app (tests run several apps in one process). */
export function createMetrics(): AppMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route pattern and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'store_errors_total',
      help: 'Requests that failed because the store was unreachable',
      labelNames: ['code'],
      registers: [registry],
    }),
    tokensIssued: new Counter({
      name: 'access_tokens_issued_total',
      help: 'Access tokens handed to callers',
      labelNames: ['provider'],
      registers: [registry],
    }),
  }
}

export default fp<{ metrics: AppMetrics }>(async (app, { metrics }) => {
  app.decorate('metrics', metrics)
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
  app.addHook('onError', async (_request, _reply, error) => {
    if ((error as { code?: string }).code === 'STORE_UNAVAILABLE') metrics.storeErrors.inc({ code: 'STORE_UNAVAILABLE' })
  })
}, { name: 'metrics' })
