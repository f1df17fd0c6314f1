/**
 * The failures the contract (docs/api.md) names, one class each, with the contract's code.
 * Domain code throws these and knows nothing of HTTP: src/http/error-status.ts maps each
 * code to its status, and the error handler renders `{ statusCode, code, error, message }`.
 */
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'INVALID_STATE'
  | 'AUTHORIZATION_DENIED'
  | 'IDENTITY_MISMATCH'
  | 'ISSUER_MISMATCH'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'ACCOUNT_NOT_FOUND'
  | 'PROVIDER_NOT_FOUND'
  | 'NOT_FOUND'
  | 'ACCOUNT_CONFLICT'
  | 'REAUTHENTICATION_REQUIRED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'PROVIDER_ERROR'
  | 'PROVIDER_UNAVAILABLE'
  | 'STORE_UNAVAILABLE'
  | 'CREDENTIAL_UNREADABLE'
  | 'OVERLOADED'
  | 'INTERNAL_ERROR'

export class BrokerError extends Error {
  /** Seconds until the caller may try again (rendered as Retry-After), when known. */
  retryAfter?: number

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A request the HTTP layer rejects, in its own words (`body is not valid JSON`). */
export class ValidationError extends BrokerError {
  constructor(message: string) {
    super('VALIDATION_ERROR', message)
  }
}
/**
 * Bad input found by the domain. `field` names the input (`return_to`, `cursor`), or null for
 * the request as a whole; the HTTP layer says where it came from: `body/return_to is not a valid URL`.
 */
export class InvalidInputError extends BrokerError {
  constructor(
    readonly field: string | null,
    readonly problem: string,
  ) {
    super('VALIDATION_ERROR', field === null ? problem : `${field} ${problem}`)
  }
}
export class InvalidStateError extends BrokerError {
  constructor() {
    super('INVALID_STATE', 'The state is unknown, expired or already used')
  }
}
export class AuthorizationDeniedError extends BrokerError {
  constructor(reason: string) {
    super('AUTHORIZATION_DENIED', `The provider did not authorize the request: ${reason}`)
  }
}
/** An extension of the contract: the link was restricted to an identity (`expected_subject`) and another completed it. */
export class IdentityMismatchError extends BrokerError {
  constructor() {
    super('IDENTITY_MISMATCH', 'The provider account that completed the link is not the expected one; nothing was stored')
  }
}
export class IssuerMismatchError extends BrokerError {
  constructor() {
    super('ISSUER_MISMATCH', 'The callback came from an unexpected issuer')
  }
}
export class UnauthorizedError extends BrokerError {
  constructor(message: string) {
    super('UNAUTHORIZED', message)
  }
}
export class ForbiddenError extends BrokerError {
  constructor(message: string) {
    super('FORBIDDEN', message)
  }
}
export class AccountNotFoundError extends BrokerError {
  constructor(account: string) {
    super('ACCOUNT_NOT_FOUND', `Account ${account} not found`)
  }
}
export class ProviderNotFoundError extends BrokerError {
  constructor(provider: string) {
    super('PROVIDER_NOT_FOUND', `Provider ${provider} not found`)
  }
}
export class RouteNotFoundError extends BrokerError {
  constructor(method: string, path: string) {
    super('NOT_FOUND', `Route ${method} ${path} not found`)
  }
}
export class AccountConflictError extends BrokerError {
  constructor(account: string) {
    super('ACCOUNT_CONFLICT', `Account ${account} is linked to another provider`)
  }
}
export class ReauthenticationRequiredError extends BrokerError {
  constructor(account: string) {
    super('REAUTHENTICATION_REQUIRED', `Account ${account} must be linked again`)
  }
}
export class PayloadTooLargeError extends BrokerError {
  constructor() {
    super('PAYLOAD_TOO_LARGE', 'The body is larger than this route accepts (64 KiB at most)')
  }
}
export class UnsupportedMediaTypeError extends BrokerError {
  constructor() {
    super('UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json')
  }
}
export class RateLimitedError extends BrokerError {
  constructor() {
    super('RATE_LIMITED', 'Too many requests')
  }
}
export class ProviderError extends BrokerError {
  constructor(message: string) {
    super('PROVIDER_ERROR', message)
  }
}
export class ProviderUnavailableError extends BrokerError {
  constructor() {
    super('PROVIDER_UNAVAILABLE', 'The provider is unavailable; try again later')
  }
}
/** Redis did not answer (or answered with an error): the store's boundary turns every such failure into this. */
export class StoreUnavailableError extends BrokerError {
  constructor(options?: ErrorOptions) {
    super('STORE_UNAVAILABLE', 'The store is unavailable; try again later', options)
  }
}
export class CredentialUnreadableError extends BrokerError {
  constructor() {
    super('CREDENTIAL_UNREADABLE', 'A stored credential cannot be decrypted; check ENCRYPTION_KEYS')
  }
}
/** An extension of the contract: the process sheds load before it is overwhelmed (with Retry-After). */
export class OverloadedError extends BrokerError {
  constructor() {
    super('OVERLOADED', 'The service is overloaded; try again later')
  }
}
export class InternalError extends BrokerError {
  constructor() {
    super('INTERNAL_ERROR', 'Internal server error')
  }
}

/** Errors that tell the caller when to come back carry it here; the handler sets Retry-After. */
export function withRetryAfter<E extends BrokerError>(error: E, seconds: number): E {
  error.retryAfter = Math.max(1, Math.ceil(seconds))
  return error
}
