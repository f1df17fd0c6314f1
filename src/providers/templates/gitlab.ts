import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/** GitLab.com (self-managed: override the three URLs): 2-hour access tokens, rotating refresh tokens. */
export const gitlab: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://gitlab.com/oauth/authorize',
  tokenUrl: 'https://gitlab.com/oauth/token',
  // /oauth/revoke takes client_id, client_secret and token in the body.
  revocationUrl: 'https://gitlab.com/oauth/revoke',
  revocation: 'rfc7009',
  tokenAuthMethod: 'client_secret_post',
  scopes: ['read_user'],
  rotation: 'always',
}
