import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * GitHub (OAuth apps and GitHub Apps): answers form-encoded unless asked for JSON (the
 * token client always sends Accept: application/json), reports errors with HTTP 200, and
 * with expiring user tokens rotates single-use refresh tokens; without them there is none.
 */
export const github: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://github.com/login/oauth/authorize',
  tokenUrl: 'https://github.com/login/oauth/access_token',
  // "Delete an app authorization": DELETE /applications/{client_id}/grant, Basic client_id:client_secret, JSON {access_token}.
  revocationUrl: 'https://api.github.com/applications/{client_id}/grant',
  revocation: 'github-grant',
  tokenAuthMethod: 'client_secret_post',
  // Scopes go out space-separated; the token response lists them comma-separated ("repo,gist").
  responseScopeSeparator: ',',
  // PKCE (S256) is supported for OAuth and GitHub Apps since 2025-07 (github.blog changelog 2025-07-14).
  pkce: true,
  // docs.github.com "Refreshing user access tokens": once used, the refresh token and the old access token stop working.
  rotation: 'always',
  errorIn200: 'error-field',
  invalidGrantErrors: ['invalid_grant', 'bad_refresh_token', 'bad_verification_code'],
  clientErrors: [...OAUTH2_DEFAULTS.clientErrors, 'incorrect_client_credentials'],
  // Expiring user tokens: the refresh token lives about 6 months (refresh_token_expires_in 15897600) and each
  // refresh issues a new one, so a grant refreshed within that window never dies.
  refreshTokenIdleTtl: 15_897_600,
}
