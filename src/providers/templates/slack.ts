import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * Slack (OAuth v2) user tokens: scopes go in `user_scope`, comma-separated; the user token
 * sits under `authed_user` (the bot token, when that is all there is, at the top level);
 * errors come as `{ ok: false, error }` with HTTP 200; refresh tokens exist only with token
 * rotation enabled, and then each refresh revokes the previous one.
 */
export const slack: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://slack.com/oauth/v2/authorize',
  tokenUrl: 'https://slack.com/api/oauth.v2.access',
  // auth.revoke revokes the token that authenticates the call.
  revocationUrl: 'https://slack.com/api/auth.revoke',
  revocation: 'bearer',
  // docs.slack.dev oauth.v2.access: prefer HTTP Basic over client_id/client_secret parameters; code_verifier is accepted (PKCE).
  tokenAuthMethod: 'client_secret_basic',
  scopeSeparator: ',',
  scopeParam: 'user_scope',
  responseScopeSeparator: ',',
  tokenPath: 'authed_user',
  // token_type is "user" or "bot"; callers send it as a Bearer token.
  fixedTokenType: 'Bearer',
  errorIn200: 'ok-false',
  rotation: 'optional',
  invalidGrantErrors: ['invalid_grant', 'invalid_refresh_token', 'invalid_code', 'token_revoked'],
  clientErrors: [...OAUTH2_DEFAULTS.clientErrors, 'invalid_client_id', 'bad_client_secret'],
}
