import fp from 'fastify-plugin'
import type { AppMetrics } from '../../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

/** Request durations by route pattern and status; store outages counted. */
export default fp<{ metrics: AppMetrics }>(async (app, { metrics }) => {
  app.decorate('metrics', metrics)
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
  app.addHook('onError', async (_request, _reply, error) => {
    if ((error as { code?: string }).code === 'STORE_UNAVAILABLE') metrics.storeErrors.inc()
  })
}, { name: 'http-metrics' })
