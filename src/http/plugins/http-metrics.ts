import fp from 'fastify-plugin'
import { StoreUnavailableError } from '../../errors.js'
import type { AppMetrics } from '../../metrics.js'
import { elapsedMs } from '../fast-access.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

type Series = { observe(seconds: number): void }

/** The duration histogram's series of a (method, route, status), each label set bound once. */
export function boundSeries(metrics: AppMetrics): (method: string, route: string, status: number) => Series {
  const bound = new Map<string, Series>()
  return (method, route, status) => {
    const key = `${method} ${route} ${status}`
    let series = bound.get(key)
    if (series === undefined) {
      series = metrics.httpDuration.labels({ method, route, status_code: String(status) })
      bound.set(key, series)
    }
    return series
  }
}

/** Request durations by route pattern and status; store outages counted. */
export default fp<{ metrics: AppMetrics }>(
  async (app, { metrics }) => {
    app.decorate('metrics', metrics)
    // One synchronous hook; the label set of each (method, route, status) is bound once.
    const series = boundSeries(metrics)
    app.addHook('onResponse', (request, reply, done) => {
      series(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode).observe(elapsedMs(request, reply) / 1000)
      done()
    })
    app.addHook('onError', async (_request, _reply, error) => {
      if (error instanceof StoreUnavailableError) metrics.storeErrors.inc()
    })
  },
  { name: 'http-metrics' },
)
