import { basicAuthorization, clientRequest } from './client-auth.js'
import type { Endpoints } from './endpoints.js'
import { providerFetch } from './http.js'
import type { ProviderConfig } from './providers-file.js'

export type RevocationOutcome = 'succeeded' | 'failed' | 'not_supported'

export interface GrantTokens {
  accessToken: string | null
  refreshToken: string | null
}

interface RevocationRequest {
  url: string
  init: RequestInit
}

/**
 * Revokes a grant at the provider, the way its template says (RFC 7009 by default). Any
 * failure (timeout, network, an error answer) is `failed`: the caller deletes the grant
 * whatever the provider said. Nothing here is logged.
 */
export async function revokeAtProvider(
  provider: ProviderConfig,
  endpoints: Endpoints,
  tokens: GrantTokens,
  timeoutMs: number,
): Promise<RevocationOutcome> {
  if (provider.revocation === 'none' || !endpoints.revocationUrl) return 'not_supported'
  const request = buildRequest(provider, endpoints.revocationUrl, tokens)
  if (!request) return 'failed' // the method needs a token this grant does not hold
  try {
    const response = await providerFetch(request.url, request.init, timeoutMs)
    if (response.status < 200 || response.status > 299) return 'failed'
    const body = response.body as Record<string, unknown> | null
    if (provider.errorIn200 === 'ok-false' && body?.ok === false) return 'failed'
    return 'succeeded'
  } catch {
    return 'failed'
  }
}

function buildRequest(provider: ProviderConfig, url: string, tokens: GrantTokens): RevocationRequest | null {
  const { headers } = clientRequest(provider, {}, null)
  delete headers['content-type']
  const token = tokens.refreshToken ?? tokens.accessToken
  switch (provider.revocation) {
    case 'rfc7009':
    case 'rfc7009-no-auth': {
      if (!token) return null
      const fields: Record<string, string> = { token }
      if (provider.revocationTokenTypeHint) fields.token_type_hint = tokens.refreshToken ? 'refresh_token' : 'access_token'
      const request =
        provider.revocation === 'rfc7009'
          ? clientRequest(provider, fields, provider.clientSecrets[0] ?? null)
          : noAuthRequest(provider, fields)
      return { url, init: { method: 'POST', ...request } }
    }
    case 'bearer':
      if (!tokens.accessToken) return null
      return { url, init: { method: 'POST', headers: { ...headers, authorization: `Bearer ${tokens.accessToken}` } } }
    case 'github-grant': {
      if (!tokens.accessToken) return null
      const basic = basicAuthorization(provider.clientId, provider.clientSecrets[0] ?? '')
      return {
        url,
        init: {
          method: 'DELETE',
          headers: { ...headers, authorization: basic, 'content-type': 'application/json' },
          body: JSON.stringify({ access_token: tokens.accessToken }),
        },
      }
    }
    case 'token-path':
      if (!tokens.refreshToken) return null
      return { url: `${url.replace(/\/+$/, '')}/${encodeURIComponent(tokens.refreshToken)}`, init: { method: 'DELETE', headers } }
    default:
      return null
  }
}

/** An RFC 7009 request without client credentials (Google's and Salesforce's /revoke). */
function noAuthRequest(provider: ProviderConfig, fields: Record<string, string>) {
  const { headers } = clientRequest(provider, {}, null)
  return { headers, body: provider.bodyFormat === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString() }
}
