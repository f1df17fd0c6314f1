import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * Atlassian (Jira/Confluence Cloud, OAuth 2.0 3LO): JSON token requests, audience and
 * prompt=consent on the authorization, offline_access for a refresh token, and rotating
 * refresh tokens with a reuse leeway.
 */
export const atlassian: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://auth.atlassian.com/authorize',
  tokenUrl: 'https://auth.atlassian.com/oauth/token',
  tokenAuthMethod: 'client_secret_post',
  bodyFormat: 'json',
  scopes: ['offline_access'],
  authorizeParams: { audience: 'api.atlassian.com', prompt: 'consent' },
  rotation: 'always',
  // "Reuse of old tokens outside the leeway interval invalidates all refresh tokens ... The leeway interval is
  // 10 minutes" (community.developer.atlassian.com, "Updated: 31 January 2022 - Deprecating persistent refresh tokens").
  reuseGraceSeconds: 600,
  // No public token revocation endpoint for 3LO apps.
  revocation: 'none',
  // Rotating refresh tokens expire after 90 days of inactivity (developer.atlassian.com, 3LO rotating refresh tokens).
  refreshTokenIdleTtl: 90 * 86_400,
}
