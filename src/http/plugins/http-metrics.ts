import fp from 'fastify-plugin'
import { StoreUnavailableError } from '../../errors.js'
import type { AppMetrics } from '../../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

/** Request durations by route pattern and status; store outages counted. */
export default fp<{ metrics: AppMetrics }>(
  async (app, { metrics }) => {
    app.decorate('metrics', metrics)
    // One synchronous hook; the label set of each (method, route, status) is bound once.
    const bound = new Map<string, { observe(seconds: number): void }>()
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      const key = `${request.method} ${route} ${reply.statusCode}`
      let series = bound.get(key)
      if (series === undefined) {
        series = metrics.httpDuration.labels({ method: request.method, route, status_code: String(reply.statusCode) })
        bound.set(key, series)
      }
      series.observe(reply.elapsedTime / 1000)
      done()
    })
    app.addHook('onError', async (_request, _reply, error) => {
      if (error instanceof StoreUnavailableError) metrics.storeErrors.inc()
    })
  },
  { name: 'http-metrics' },
)
