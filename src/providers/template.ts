/**
 * What a provider does, as data. A built-in template fills these; a providers-file entry
 * may override the endpoints and the client settings. Code reads quirks from here and
 * never branches on a provider's name.
 */
export interface ProviderTemplate {
  issuer?: string
  authorizationUrl?: string
  tokenUrl?: string
  revocationUrl?: string
  tokenAuthMethod: TokenAuthMethod
  /** Encoding of the token request body. */
  bodyFormat: 'form' | 'json'
  scopes: string[]
  scopeSeparator: string
  pkce: boolean
  authorizeParams: Record<string, string>
  tokenParams: Record<string, string>
  refreshParams: Record<string, string>
  /** Whether a refresh returns a new refresh token that replaces the old one. */
  rotation: 'none' | 'always' | 'optional'
  /** Seconds the provider still accepts a rotated-out refresh token (0: single use). */
  reuseGraceSeconds: number
  /** Error codes that mean the grant is dead (RFC 6749 invalid_grant, GitHub's bad_refresh_token). */
  invalidGrantErrors: string[]
  /** Where an error hides in an HTTP 200 body: `error` field, or `ok: false` (Slack). */
  errorIn200: 'none' | 'error-field' | 'ok-false'
  /** Dotted path of the object holding the tokens in the token response ('' = top level). */
  tokenPath: string
  /** How revocation works: RFC 7009 at revocationUrl, or not at all. */
  revocation: 'rfc7009' | 'none'
  /** Token response fields kept as non-secret metadata (Salesforce's instance_url). */
  metadataFields: string[]
}

export type TokenAuthMethod = 'client_secret_basic' | 'client_secret_post'

export const OAUTH2_DEFAULTS: ProviderTemplate = {
  tokenAuthMethod: 'client_secret_basic',
  bodyFormat: 'form',
  scopes: [],
  scopeSeparator: ' ',
  pkce: true,
  authorizeParams: {},
  tokenParams: {},
  refreshParams: {},
  rotation: 'optional',
  reuseGraceSeconds: 0,
  invalidGrantErrors: ['invalid_grant'],
  errorIn200: 'none',
  tokenPath: '',
  revocation: 'rfc7009',
  metadataFields: [],
}
