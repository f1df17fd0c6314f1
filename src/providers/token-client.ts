import { clientRequest } from './client-auth.js'
import type { ProviderConfig } from './providers-file.js'
import { ProviderNetworkError, providerFetch, type ProviderResponse } from './http.js'
import { parseTokenResponse, type TokenSet } from './token-response.js'

/** Why a provider call failed, in the terms the refresh engine decides on. */
export type FailureClass =
  /** The grant is dead: invalid_grant or the template's equivalent. */
  | 'invalid_grant'
  /** Our client is misconfigured or revoked at the provider: needs an operator. */
  | 'client'
  /** Timeout, network, 5xx, 429: try again later. */
  | 'transient'
  /** Any other answer we did not expect. */
  | 'unexpected'

export class ProviderCallError extends Error {
  constructor(
    readonly failure: FailureClass,
    /** The OAuth error code, or a short reason; never a token. */
    readonly reason: string,
    readonly status: number | null,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(`provider call failed: ${failure} (${reason})`)
    this.name = 'ProviderCallError'
  }
}

/**
 * One token-endpoint request (code exchange or refresh), with the provider's quirks:
 * client auth method, form or JSON body, errors hidden in HTTP 200, nested tokens.
 * Client secrets are tried in order while the provider answers invalid_client.
 */
export async function requestToken(
  provider: ProviderConfig,
  tokenUrl: string,
  params: Record<string, string>,
  timeoutMs: number,
): Promise<TokenSet> {
  const secrets: (string | null)[] = provider.clientSecrets.length > 0 ? provider.clientSecrets : [null]
  let last: ProviderCallError | null = null
  for (const secret of secrets) {
    try {
      const response = await callTokenEndpoint(provider, tokenUrl, params, secret, timeoutMs)
      return interpret(provider, response)
    } catch (error) {
      if (!(error instanceof ProviderCallError) || error.failure !== 'client') throw error
      last = error
    }
  }
  throw last!
}

async function callTokenEndpoint(
  provider: ProviderConfig,
  tokenUrl: string,
  params: Record<string, string>,
  secret: string | null,
  timeoutMs: number,
): Promise<ProviderResponse> {
  const fields: Record<string, string> = { ...params }
  if (fields.grant_type === 'refresh_token' && provider.refreshScope && fields.scope === undefined && provider.scopes.length > 0) {
    fields.scope = provider.scopes.join(provider.scopeSeparator)
  }
  // Accept: JSON always (GitHub answers form-encoded without it).
  const { headers, body } = clientRequest(provider, fields, secret)
  try {
    return await providerFetch(tokenUrl, { method: 'POST', headers, body }, timeoutMs)
  } catch (error) {
    if (error instanceof ProviderNetworkError) {
      throw new ProviderCallError(error.reason === 'too-large' ? 'unexpected' : 'transient', error.reason, null)
    }
    throw error
  }
}

function interpret(provider: ProviderConfig, response: ProviderResponse): TokenSet {
  const { status, body } = response
  if (status === 429 || status >= 500) {
    throw new ProviderCallError('transient', `http_${status}`, status, retryAfter(response.headers.get('retry-after')))
  }
  const error = errorCode(provider, body, status)
  if (error !== null) {
    const failure: FailureClass = provider.invalidGrantErrors.includes(error)
      ? 'invalid_grant'
      : provider.clientErrors.includes(error)
        ? 'client'
        : error === 'temporarily_unavailable'
          ? 'transient'
          : 'unexpected'
    throw new ProviderCallError(failure, error, status)
  }
  if (status !== 200) throw new ProviderCallError('unexpected', `http_${status}`, status)
  const tokens = parseTokenResponse(provider, body)
  if (!tokens) throw new ProviderCallError('unexpected', 'malformed_token_response', status)
  return tokens
}

/** The OAuth error code of a response, wherever the template says it hides; null when none. */
function errorCode(provider: ProviderConfig, body: unknown, status: number): string | null {
  const record = body && typeof body === 'object' ? (body as Record<string, unknown>) : {}
  const field = provider.errorFields.find((name) => typeof record[name] === 'string' && record[name] !== '')
  const code = field === undefined ? null : (record[field] as string).slice(0, 64)
  if (status >= 400) return code ?? `http_${status}`
  if (provider.errorIn200 === 'ok-false' && record.ok === false) return code ?? 'unknown_error'
  if (provider.errorIn200 === 'error-field' && code !== null) return code
  return null
}

/** Retry-After as seconds (delta or HTTP date), capped at an hour. */
export function retryAfter(value: string | null): number | null {
  if (!value) return null
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000
  return Number.isFinite(seconds) ? Math.min(3600, Math.max(0, Math.ceil(seconds))) : null
}
