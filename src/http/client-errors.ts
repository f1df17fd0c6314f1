import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/**
 * Errors Node's HTTP parser answers before Fastify sees a request (malformed or oversized
 * headers, CL+TE, a NUL in the path, a request that took too long, an Expect header),
 * in the contract's four-field shape instead of Node's or Fastify's bare bodies. Codes
 * beyond the contract's table: REQUEST_TIMEOUT (408), HEADERS_TOO_LARGE (431),
 * EXPECTATION_FAILED (417); a request that is not valid HTTP is a 400 VALIDATION_ERROR.
 */
const PARSER_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'The request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'The request headers are too large'],
}
const NOT_HTTP: [number, string, string] = [400, 'VALIDATION_ERROR', 'The request is not valid HTTP']

export function errorBody(status: number, code: string, message: string): string {
  return JSON.stringify({ statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message })
}

/** Fastify's `clientErrorHandler`: one answer, then the socket is closed. Nothing of the request is echoed. */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, message] = PARSER_ERRORS[error.code ?? ''] ?? NOT_HTTP
  this.log.debug({ code, parser: error.code }, 'client error')
  if (socket.writable) {
    const body = errorBody(status, code, message)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

/** Node answers an `Expect` other than 100-continue with a bare 417; this gives it the error shape. */
export function rejectExpectation(_request: IncomingMessage, response: ServerResponse): void {
  const body = errorBody(417, 'EXPECTATION_FAILED', 'Only "Expect: 100-continue" is supported')
  response.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  })
  response.end(body)
}
