import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import { OverloadedError, withRetryAfter } from '../../errors.js'
import { throttled } from '../../log-throttle.js'
import type { AppMetrics } from '../../metrics.js'

/** Probes answer whatever the load: an orchestrator must not restart a busy process, and metrics show why. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics'])
const RETRY_AFTER_SECONDS = 5

export interface LoadSheddingOptions {
  /** Mean event-loop delay (ms) above which requests are refused; 0 = off. */
  maxEventLoopDelayMs: number
  /** Heap in use (MiB) above which requests are refused; 0 = off. */
  maxHeapMb: number
  metrics: AppMetrics
}

/**
 * Sheds load before the process is overwhelmed (@fastify/under-pressure samples the event
 * loop and heap once a second; the per-request check is two comparisons): 503 OVERLOADED
 * in the contract's shape with Retry-After, counted, and one warning a minute.
 */
export default fp<LoadSheddingOptions>(
  async (app, o) => {
    if (o.maxEventLoopDelayMs === 0 && o.maxHeapMb === 0) return
    const warn = throttled(60_000)
    await app.register(underPressure, {
      maxEventLoopDelay: o.maxEventLoopDelayMs,
      maxHeapUsedBytes: o.maxHeapMb * 1024 * 1024,
      pressureHandler: async (request, _reply, type, value) => {
        if (PROBES.has(request.routeOptions.url ?? '')) return
        // under-pressure reports a sampling window with no event-loop sample at all (a process
        // blocked through it, typically while starting) as an infinite delay: that is unknown,
        // not overload, and must not turn the next second into 503s.
        if (type === 'eventLoopDelay' && !Number.isFinite(value)) return
        o.metrics.shedRequests.inc({ reason: type })
        warn((suppressed) => request.log.warn({ reason: type, value, suppressed }, 'overloaded: shedding requests'))
        throw withRetryAfter(new OverloadedError(), RETRY_AFTER_SECONDS)
      },
    })
  },
  { name: 'load-shedding' },
)
