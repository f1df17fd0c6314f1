import createError, { type FastifyErrorConstructor } from '@fastify/error'

/**
 * Every error the contract (docs/api.md) names, one coded constructor each. Domain code throws these;
 * the HTTP error handler renders `{ statusCode, code, error, message }`.
 */
const coded = (code: string, message: string, status: number): FastifyErrorConstructor =>
  createError(code, message, status)

export const ValidationError = coded('VALIDATION_ERROR', '%s', 400)
export const InvalidStateError = coded('INVALID_STATE', 'The state is unknown, expired or already used', 400)
export const AuthorizationDeniedError = coded('AUTHORIZATION_DENIED', 'The provider did not authorize the request: %s', 400)
/** An extension of the contract: the link was restricted to an identity (`expected_subject`) and another completed it. */
export const IdentityMismatchError = coded('IDENTITY_MISMATCH', 'The provider account that completed the link is not the expected one; nothing was stored', 400)
export const IssuerMismatchError = coded('ISSUER_MISMATCH', 'The callback came from an unexpected issuer', 400)
export const UnauthorizedError = coded('UNAUTHORIZED', '%s', 401)
export const ForbiddenError = coded('FORBIDDEN', '%s', 403)
export const AccountNotFoundError = coded('ACCOUNT_NOT_FOUND', 'Account %s not found', 404)
export const ProviderNotFoundError = coded('PROVIDER_NOT_FOUND', 'Provider %s not found', 404)
export const RouteNotFoundError = coded('NOT_FOUND', 'Route %s %s not found', 404)
export const AccountConflictError = coded('ACCOUNT_CONFLICT', 'Account %s is linked to another provider', 409)
export const ReauthenticationRequiredError = coded('REAUTHENTICATION_REQUIRED', 'Account %s must be linked again', 409)
export const PayloadTooLargeError = coded('PAYLOAD_TOO_LARGE', 'The body is larger than this route accepts (64 KiB at most)', 413)
export const UnsupportedMediaTypeError = coded('UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json', 415)
export const RateLimitedError = coded('RATE_LIMITED', 'Too many requests', 429)
export const ProviderError = coded('PROVIDER_ERROR', '%s', 502)
export const ProviderUnavailableError = coded('PROVIDER_UNAVAILABLE', 'The provider is unavailable; try again later', 503)
export const StoreUnavailableError = coded('STORE_UNAVAILABLE', 'The store is unavailable; try again later', 503)
export const CredentialUnreadableError = coded(
  'CREDENTIAL_UNREADABLE', 'A stored credential cannot be decrypted; check ENCRYPTION_KEYS', 500)
/** An extension of the contract: the process sheds load before it is overwhelmed (with Retry-After). */
export const OverloadedError = coded('OVERLOADED', 'The service is overloaded; try again later', 503)
export const InternalError = coded('INTERNAL_ERROR', 'Internal server error', 500)

/** Errors that tell the caller when to come back carry it here; the handler sets Retry-After. */
export function withRetryAfter<E extends Error>(error: E, seconds: number): E & { retryAfter: number } {
  return Object.assign(error, { retryAfter: Math.max(1, Math.ceil(seconds)) })
}
