import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * Google: a refresh token only with access_type=offline, and only on first consent unless
 * prompt=consent; it never rotates and refresh responses omit it (the stored one is kept).
 */
export const google: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  // /revoke takes the access or refresh token as `token`, no client authentication; revoking either ends the grant.
  revocationUrl: 'https://oauth2.googleapis.com/revoke',
  revocation: 'rfc7009-no-auth',
  tokenAuthMethod: 'client_secret_post',
  scopes: ['openid', 'email'],
  authorizeParams: { access_type: 'offline', prompt: 'consent' },
  rotation: 'none',
  // A refresh token unused for six months stops working (developers.google.com, refresh token expiration).
  refreshTokenIdleTtl: 180 * 86_400,
}
