import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  BrokerError,
  InternalError,
  InvalidInputError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
  ValidationError,
  type ErrorCode,
} from '../../errors.js'
import { ERROR_STATUS } from '../error-status.js'
import { safeError } from '../safe-error.js'

/** Fastify's own client errors, in the contract's words. */
const FRAMEWORK_ERRORS: Record<string, () => BrokerError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new PayloadTooLargeError(),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new UnsupportedMediaTypeError(),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new ValidationError('body is not valid JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new ValidationError('body is empty'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new ValidationError('content-length does not match the body'),
}

export interface ErrorBody {
  statusCode: number
  code: ErrorCode
  error: string
  message: string
}

/** Maps any error to the contract's shape; 5xx never carry internal detail. */
export function toErrorBody(error: unknown, request?: FastifyRequest): ErrorBody {
  const { code, message, statusCode } = classify(error as FastifyError, request)
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

function classify(error: FastifyError, request?: FastifyRequest): { code: ErrorCode; message: string; statusCode: number } {
  if (error instanceof InvalidInputError) return { code: error.code, message: locate(error, request), statusCode: 400 }
  const status = error.statusCode ?? 500
  const known = contractError(error) ?? (status >= 400 && status < 500 ? undefined : new InternalError())
  if (!known) return { code: 'VALIDATION_ERROR', message: safeClientMessage(error), statusCode: status }
  return { code: known.code, message: known.message, statusCode: ERROR_STATUS[known.code] }
}

/** The error in the contract's terms: ours as it is, Fastify's own translated; undefined for anything else. */
function contractError(error: FastifyError): BrokerError | undefined {
  if (error instanceof BrokerError) return error
  if (error.validation) return new ValidationError(validationMessage(error))
  return FRAMEWORK_ERRORS[error.code]?.()
}

/** `body/return_to is not a valid URL`: where the domain's bad input came from, in Ajv's words. */
function locate(error: InvalidInputError, request?: FastifyRequest): string {
  const query = request?.query as Record<string, unknown> | undefined
  const inQuery = error.field === null ? request?.method === 'GET' : query !== undefined && error.field in query
  const where = inQuery ? 'querystring' : 'body'
  return error.field === null ? `${where} ${error.problem}` : `${where}/${error.field} ${error.problem}`
}

/** Ajv's first message, prefixed with where it applies: `body/account must match pattern ...`. */
function validationMessage(error: FastifyError): string {
  const context = error.validationContext ?? 'request'
  return error.message.startsWith(context) ? error.message : `${context} ${error.message}`
}

function safeClientMessage(error: FastifyError): string {
  return error.message.length <= 200 ? error.message : 'bad request'
}

/**
 * Router errors (a bad %-escape, a path parameter over maxParamLength) never reach the error
 * handler: Fastify answers them itself, in its own shape, unless the app is built with this
 * as its `frameworkErrors` option. The message never echoes the URL.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is not valid'
  const body = toErrorBody(new ValidationError(message))
  reply.code(body.statusCode).header('x-request-id', request.id).type('application/json; charset=utf-8').send(body)
}

export default fp(
  async (app) => {
    // Bodies are JSON only: without this, Fastify's built-in text/plain parser lets a text body
    // through to validation (a 400) where the contract says 415.
    app.removeContentTypeParser('text/plain')

    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const body = toErrorBody(error, request)
      if (body.statusCode >= 500) {
        request.log.error({ err: safeError(error), code: body.code }, 'request failed')
      }
      if (body.statusCode === 401) {
        reply.header('www-authenticate', request.headers.authorization ? 'Bearer error="invalid_token"' : 'Bearer')
      }
      const retryAfter = error instanceof BrokerError ? error.retryAfter : undefined
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
      return reply.code(body.statusCode).type('application/json; charset=utf-8').send(body)
    })

    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send(toErrorBody(new RouteNotFoundError(request.method, request.url.split('?')[0] ?? request.url)))
    })
  },
  { name: 'error-handler' },
)
