import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/** Xero: 30-minute access tokens, rotating refresh tokens (offline_access) with a reuse grace period. */
export const xero: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://login.xero.com/identity/connect/authorize',
  tokenUrl: 'https://identity.xero.com/connect/token',
  revocationUrl: 'https://identity.xero.com/connect/revocation',
  revocation: 'rfc7009',
  tokenAuthMethod: 'client_secret_basic',
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  rotation: 'always',
  // "you can retry refreshing the old token for a grace period of 30 minutes" (Xero staff, community.xero.com/developer/discussion/105714701).
  reuseGraceSeconds: 1800,
  // A refresh token expires after 60 days unused (developer.xero.com, token types).
  refreshTokenIdleTtl: 60 * 86_400,
}
