/**
 * What a provider does, as data. A built-in template fills these; a providers-file entry
 * may override the endpoints and the client settings. Code reads quirks from here and
 * never branches on a provider's name.
 */
export interface ProviderTemplate {
  issuer?: string
  /** URLs may hold `{name}` placeholders, filled from `urlParams` and the entry's `params` (Microsoft's `{tenant}`). */
  authorizationUrl?: string
  tokenUrl?: string
  revocationUrl?: string
  /** Default values of `{name}` placeholders in the URLs; the entry's `params` override them. */
  urlParams: Record<string, string>
  tokenAuthMethod: TokenAuthMethod
  /** Encoding of the token request body (and of an RFC 7009 revocation request). */
  bodyFormat: 'form' | 'json'
  /** Extra headers on every token and revocation request (Notion's `Notion-Version`). */
  requestHeaders: Record<string, string>
  scopes: string[]
  /** Joins scopes in the authorization request (and in a refresh request's `scope`). */
  scopeSeparator: string
  /** Query parameter of the authorization request that carries the scopes (Slack's user tokens: `user_scope`). */
  scopeParam: string
  /** Splits the `scope` of a token response; the broker stores and reports scopes space-separated. */
  responseScopeSeparator: string
  pkce: boolean
  /** Extra query parameters of the authorization request (Google's access_type=offline). */
  authorizeParams: Record<string, string>
  /** Extra body parameters of the code exchange. */
  tokenParams: Record<string, string>
  /** Extra body parameters of a refresh. */
  refreshParams: Record<string, string>
  /** A refresh sends `scope` (the configured scopes unless the caller passes one): Microsoft wants it. */
  refreshScope: boolean
  /** Whether a refresh returns a new refresh token that replaces the old one (informational; a missing one is always kept). */
  rotation: 'none' | 'always' | 'optional'
  /** Seconds the provider still accepts a rotated-out refresh token (0: single use). */
  reuseGraceSeconds: number
  /** Error codes that mean the grant is dead (RFC 6749 invalid_grant, GitHub's bad_refresh_token). */
  invalidGrantErrors: string[]
  /** Error codes that mean the broker's client credentials were refused (the next client secret is tried). */
  clientErrors: string[]
  /** Response fields that may hold the error code, first string wins (`error`; HubSpot's `status`). */
  errorFields: string[]
  /** Where an error hides in an HTTP 200 body: an error field, or `ok: false` (Slack). */
  errorIn200: 'none' | 'error-field' | 'ok-false'
  /** Dotted path of the object holding the tokens in the token response ('' = top level); top level when absent there. */
  tokenPath: string
  /** Token type to report whatever the response says (Slack answers `bot`/`user`, which are not HTTP schemes); null: the response's. */
  fixedTokenType: string | null
  /** How a grant is revoked at the provider; see RevocationMethod. */
  revocation: RevocationMethod
  /** An RFC 7009 revocation request carries `token_type_hint` (Notion's strict body validation refuses it). */
  revocationTokenTypeHint: boolean
  /** Token response fields kept as non-secret metadata (Salesforce's instance_url). */
  metadataFields: string[]
  /**
   * Seconds an access token lives when the token response has no `expires_in` (Salesforce's
   * session timeout), so such tokens are still refreshed instead of served until they die.
   * null: a token without `expires_in` never expires (Notion).
   */
  defaultExpiresIn: number | null
  /**
   * Seconds after which the provider expires a refresh token left unused (Microsoft's 90
   * days): the scheduler refreshes grants not refreshed for half of it. null: none known.
   */
  refreshTokenIdleTtl: number | null
}

export type TokenAuthMethod = 'client_secret_basic' | 'client_secret_post'

/**
 * How `DELETE /tokens/:account` revokes at the provider. Which token is sent is part
 * of the method: the refresh token when there is one, else the access token, unless
 * the method says otherwise.
 *
 * - `rfc7009`: POST `token` (and `token_type_hint` when `revocationTokenTypeHint`) to
 *   revocationUrl in the template's bodyFormat, with `requestHeaders`, the client
 *   authenticated per tokenAuthMethod (Discord, GitLab, Xero, Notion).
 * - `rfc7009-no-auth`: the same request without client credentials (Google's /revoke,
 *   Salesforce's /services/oauth2/revoke).
 * - `bearer`: POST to revocationUrl with `Authorization: Bearer <access token>` and no
 *   body; revokes the access token and its refresh token (Dropbox's /2/auth/token/revoke,
 *   Slack's auth.revoke, whose errors hide in HTTP 200 per errorIn200).
 * - `github-grant`: DELETE revocationUrl (`{client_id}` already filled) with Basic
 *   client_id:client_secret and the JSON body `{"access_token": <access token>}`; deletes
 *   the whole grant of the app for that user (GitHub's "delete an app authorization").
 * - `token-path`: DELETE `${revocationUrl}/${encodeURIComponent(refresh token)}`, no
 *   client authentication (HubSpot's /oauth/v1/refresh-tokens/:token).
 * - `none`: the provider has no revocation API; report `not_supported`.
 */
export type RevocationMethod = 'rfc7009' | 'rfc7009-no-auth' | 'bearer' | 'github-grant' | 'token-path' | 'none'

export const OAUTH2_DEFAULTS: ProviderTemplate = {
  urlParams: {},
  tokenAuthMethod: 'client_secret_basic',
  bodyFormat: 'form',
  requestHeaders: {},
  scopes: [],
  scopeSeparator: ' ',
  scopeParam: 'scope',
  responseScopeSeparator: ' ',
  pkce: true,
  authorizeParams: {},
  tokenParams: {},
  refreshParams: {},
  refreshScope: false,
  rotation: 'optional',
  reuseGraceSeconds: 0,
  invalidGrantErrors: ['invalid_grant'],
  clientErrors: ['invalid_client', 'unauthorized_client'],
  errorFields: ['error'],
  errorIn200: 'none',
  tokenPath: '',
  fixedTokenType: null,
  revocation: 'rfc7009',
  revocationTokenTypeHint: true,
  metadataFields: [],
  defaultExpiresIn: null,
  refreshTokenIdleTtl: null,
}
