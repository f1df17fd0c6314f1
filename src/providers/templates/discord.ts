import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/** Discord: plain OAuth 2.0 with RFC 7009 revocation; a refresh returns a new refresh token. */
export const discord: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://discord.com/oauth2/authorize',
  tokenUrl: 'https://discord.com/api/oauth2/token',
  // discord.com/.well-known/oauth-authorization-server: revocation with client_secret_basic/post, PKCE S256.
  revocationUrl: 'https://discord.com/api/oauth2/token/revoke',
  revocation: 'rfc7009',
  scopes: ['identify'],
  rotation: 'always',
}
