import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { elapsedMs } from './fast-access.js'
import { safeError } from './safe-error.js'

/**
 * One access-log line per request: route pattern, status, duration. Never the URL:
 * the OAuth callback carries `code` and `state` in its query string.
 */
/** Probed every few seconds by orchestrators and scrapers: logged at debug only. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics'])

export class AccessLog extends LogController {
  /**
   * `plain` writes the success lines: the same destination and level, without the redaction
   * pass, which would cost more than the line itself. Those lines carry only the request id,
   * method, route pattern, status and duration, none of which can hold a secret; error lines
   * (they carry a message) still go through the redacting request logger.
   */
  constructor(private readonly plain?: Logger) {
    super()
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const method = request.method
    const route = request.routeOptions.url ?? 'unmatched'
    const statusCode = reply.statusCode
    const ms = Math.round(elapsedMs(request, reply) * 10) / 10
    if (error) {
      request.log.error({ method, route, statusCode, ms, err: safeError(error) }, 'request errored')
      return
    }
    // Named fields, no spread: this runs on every request.
    const log = this.plain ?? request.log
    const entry = this.plain ? { reqId: request.id, method, route, statusCode, ms } : { method, route, statusCode, ms }
    if (PROBES.has(route) && statusCode < 500) log.debug(entry, 'request')
    else log.info(entry, 'request')
  }

  override routeNotFound(): void {}
}
