import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * HubSpot: client credentials in the form body, 30-minute access tokens, refresh tokens that
 * do not rotate, and errors named in `status` ({"status":"BAD_REFRESH_TOKEN","message":...}).
 * The v1 token endpoint is deprecated for 2027-02-16; /oauth/v3/token takes the same form.
 */
export const hubspot: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://app.hubspot.com/oauth/authorize',
  tokenUrl: 'https://api.hubapi.com/oauth/v1/token',
  // DELETE /oauth/v1/refresh-tokens/{token}, no client authentication.
  revocationUrl: 'https://api.hubapi.com/oauth/v1/refresh-tokens',
  revocation: 'token-path',
  tokenAuthMethod: 'client_secret_post',
  scopes: ['oauth'],
  rotation: 'none',
  errorFields: ['error', 'status'],
  invalidGrantErrors: ['invalid_grant', 'BAD_REFRESH_TOKEN', 'BAD_AUTH_CODE'],
  clientErrors: [...OAUTH2_DEFAULTS.clientErrors, 'BAD_CLIENT_ID', 'BAD_CLIENT_SECRET'],
}
