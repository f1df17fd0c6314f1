import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  InternalError, PayloadTooLargeError, RouteNotFoundError, UnsupportedMediaTypeError, ValidationError,
} from '../../errors.js'
import { safeError } from '../safe-error.js'

/** Codes the contract names; an error carrying one of these is rendered as it is. */
const CONTRACT_CODES = new Set([
  'VALIDATION_ERROR', 'INVALID_STATE', 'AUTHORIZATION_DENIED', 'ISSUER_MISMATCH', 'UNAUTHORIZED', 'FORBIDDEN',
  'ACCOUNT_NOT_FOUND', 'PROVIDER_NOT_FOUND', 'NOT_FOUND', 'ACCOUNT_CONFLICT', 'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE', 'REAUTHENTICATION_REQUIRED', 'RATE_LIMITED', 'PROVIDER_ERROR',
  'PROVIDER_UNAVAILABLE', 'STORE_UNAVAILABLE', 'CREDENTIAL_UNREADABLE', 'OVERLOADED', 'IDENTITY_MISMATCH',
])

/** Fastify's own client errors, in the contract's words. */
const FRAMEWORK_ERRORS: Record<string, () => FastifyError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new PayloadTooLargeError(),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new UnsupportedMediaTypeError(),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new ValidationError('body is not valid JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new ValidationError('body is empty'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new ValidationError('content-length does not match the body'),
}

export interface ErrorBody { statusCode: number; code: string; error: string; message: string }

/** Maps any error to the contract's shape; 5xx never carry internal detail. */
export function toErrorBody(error: FastifyError): ErrorBody {
  let e: FastifyError = error
  if (error.validation) e = new ValidationError(validationMessage(error))
  else if (FRAMEWORK_ERRORS[error.code]) e = FRAMEWORK_ERRORS[error.code]!()
  else if (!CONTRACT_CODES.has(error.code)) {
    const status = error.statusCode ?? 500
    e = status >= 400 && status < 500 ? new ValidationError(safeClientMessage(error)) : new InternalError()
    if (status >= 400 && status < 500) e.statusCode = status
  }
  const statusCode = e.statusCode ?? 500
  return { statusCode, code: e.code, error: STATUS_CODES[statusCode] ?? 'Error', message: e.message }
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

export default fp(async (app) => {
  // Bodies are JSON only: without this, Fastify's built-in text/plain parser lets a text body
  // through to validation (a 400) where the contract says 415.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(error)
    if (body.statusCode >= 500) {
      request.log.error({ err: safeError(error), code: body.code }, 'request failed')
    }
    if (body.statusCode === 401) {
      reply.header('www-authenticate', request.headers.authorization ? 'Bearer error="invalid_token"' : 'Bearer')
    }
    const retryAfter = (error as { retryAfter?: number }).retryAfter
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    return reply.code(body.statusCode).type('application/json; charset=utf-8').send(body)
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(toErrorBody(new RouteNotFoundError(request.method, request.url.split('?')[0])))
  })
}, { name: 'error-handler' })
