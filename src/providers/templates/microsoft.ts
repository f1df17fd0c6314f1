import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * Microsoft identity platform (v2.0): the tenant is part of the URLs (`params: { tenant }`,
 * default `common`), offline_access yields a refresh token, every refresh returns a new one,
 * and the refresh request carries `scope`.
 */
export const microsoft: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize',
  tokenUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token',
  urlParams: { tenant: 'common' },
  tokenAuthMethod: 'client_secret_post',
  scopes: ['openid', 'profile', 'offline_access', 'User.Read'],
  // learn.microsoft.com v2-oauth2-auth-code-flow lists `scope` as required on the refresh request.
  refreshScope: true,
  rotation: 'always',
  // Conditional access / MFA demands arrive as interaction_required: only the user can fix that by linking again.
  invalidGrantErrors: ['invalid_grant', 'interaction_required'],
  // No RFC 7009 endpoint: refresh tokens die with the user's sessions (Graph revokeSignInSessions needs user rights).
  revocation: 'none',
  // Refresh tokens expire after 90 days without use (learn.microsoft.com, refresh token lifetime).
  refreshTokenIdleTtl: 90 * 86_400,
}
