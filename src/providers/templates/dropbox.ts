import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/** Dropbox: short-lived access tokens; token_access_type=offline adds a long-lived refresh token that never rotates. */
export const dropbox: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://www.dropbox.com/oauth2/authorize',
  tokenUrl: 'https://api.dropboxapi.com/oauth2/token',
  // /2/auth/token/revoke disables the access token that authenticates the call and its refresh token.
  revocationUrl: 'https://api.dropboxapi.com/2/auth/token/revoke',
  revocation: 'bearer',
  authorizeParams: { token_access_type: 'offline' },
  rotation: 'none',
}
