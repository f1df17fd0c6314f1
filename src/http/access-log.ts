import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { safeError } from './safe-error.js'

/**
 * One access-log line per request: route pattern, status, duration. Never the URL:
 * the OAuth callback carries `code` and `state` in its query string.
 */
/** Probed every few seconds by orchestrators and scrapers: logged at debug only. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics'])

export class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    }
    if (error) request.log.error({ ...line, err: safeError(error) }, 'request errored')
    else if (PROBES.has(line.route) && reply.statusCode < 500) request.log.debug(line, 'request')
    else request.log.info(line, 'request')
  }

  override routeNotFound(): void {}
}
