/** What the broker said (or what went wrong on the way), for every error the client throws. */
export interface ErrorDetails {
  /** The HTTP status, or 0 when no answer came. */
  status: number
  /** The contract's code (`REAUTHENTICATION_REQUIRED`, ...), or `BROKER_UNREACHABLE` / `BROKER_TIMEOUT` / `UNEXPECTED_RESPONSE`. */
  code: string
  message: string
  /** Seconds the broker asked to wait (`Retry-After`), when it did. */
  retryAfter?: number | null
  /** The broker's `x-request-id`, to find the request in its logs. */
  requestId?: string | null
  cause?: unknown
}

/** Every error of the client; `code` is the contract's code. */
export class TokenBrokerError extends Error {
  readonly status: number
  readonly code: string
  readonly retryAfter: number | null
  readonly requestId: string | null

  constructor(d: ErrorDetails) {
    super(d.message, d.cause === undefined ? undefined : { cause: d.cause })
    this.name = new.target.name
    this.status = d.status
    this.code = d.code
    this.retryAfter = d.retryAfter ?? null
    this.requestId = d.requestId ?? null
  }
}

/** 409: the account has no usable grant any more; an admin must link it again. */
export class ReauthenticationRequiredError extends TokenBrokerError {}
/** 404: no such account (never linked, or revoked). */
export class AccountNotFoundError extends TokenBrokerError {}
/** 403: the caller's JWT lacks the scope, or the account is not in its `accounts` claim. */
export class ForbiddenError extends TokenBrokerError {}
/** 401: the caller's JWT is missing, expired or not valid. */
export class UnauthorizedError extends TokenBrokerError {}
/** 503: the provider is down and no valid token is left; `retryAfter` says when to come back. */
export class ProviderUnavailableError extends TokenBrokerError {}
/** 429: the caller is over its rate; `retryAfter` says when to come back. */
export class RateLimitedError extends TokenBrokerError {}

const BY_CODE: Record<string, new (d: ErrorDetails) => TokenBrokerError> = {
  REAUTHENTICATION_REQUIRED: ReauthenticationRequiredError,
  ACCOUNT_NOT_FOUND: AccountNotFoundError,
  FORBIDDEN: ForbiddenError,
  UNAUTHORIZED: UnauthorizedError,
  PROVIDER_UNAVAILABLE: ProviderUnavailableError,
  RATE_LIMITED: RateLimitedError,
}

/** The typed error for an answer's code; TokenBrokerError for any other. */
export function errorFor(d: ErrorDetails): TokenBrokerError {
  const Type = BY_CODE[d.code] ?? TokenBrokerError
  return new Type(d)
}

/** The error of a broker answer that is not 2xx: its JSON body when it has the contract's shape. */
export function errorFromAnswer(res: Response, text: string): TokenBrokerError {
  const retry = Number(res.headers.get('retry-after'))
  const common = {
    status: res.status,
    retryAfter: Number.isFinite(retry) && retry >= 0 ? retry : null,
    requestId: res.headers.get('x-request-id'),
  }
  const body = parseJson(text) as { code?: unknown; message?: unknown } | null
  if (body && typeof body.code === 'string' && typeof body.message === 'string') {
    return errorFor({ ...common, code: body.code, message: body.message })
  }
  return new TokenBrokerError({
    ...common,
    code: 'UNEXPECTED_RESPONSE',
    message: `the broker answered ${res.status} without an error body`,
  })
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
