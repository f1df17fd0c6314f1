import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * Notion public integrations: Basic client authentication with a JSON body, owner=user on
 * the authorization, no scopes, and workspace details in the token response.
 */
export const notion: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://api.notion.com/v1/oauth/authorize',
  tokenUrl: 'https://api.notion.com/v1/oauth/token',
  // developers.notion.com/reference/revoke-token: Basic auth, JSON {"token"}, Notion-Version header required.
  revocationUrl: 'https://api.notion.com/v1/oauth/revoke',
  revocation: 'rfc7009',
  revocationTokenTypeHint: false,
  tokenAuthMethod: 'client_secret_basic',
  bodyFormat: 'json',
  requestHeaders: { 'notion-version': '2025-09-03' },
  authorizeParams: { owner: 'user' },
  // Not documented for Notion's authorization endpoint.
  pkce: false,
  rotation: 'optional',
  metadataFields: ['bot_id', 'workspace_id', 'workspace_name'],
}
