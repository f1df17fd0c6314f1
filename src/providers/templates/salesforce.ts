import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/**
 * Salesforce: token responses carry no expires_in (the session timeout is org policy) and
 * name the org's instance_url, which callers need for API calls; refresh-token rotation is
 * a connected-app option. Sandboxes and My Domain: override the URLs.
 */
export const salesforce: ProviderTemplate = {
  ...OAUTH2_DEFAULTS,
  authorizationUrl: 'https://login.salesforce.com/services/oauth2/authorize',
  tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
  // POST token=... to /services/oauth2/revoke; no client authentication.
  revocationUrl: 'https://login.salesforce.com/services/oauth2/revoke',
  revocation: 'rfc7009-no-auth',
  tokenAuthMethod: 'client_secret_post',
  scopes: ['api', 'refresh_token'],
  rotation: 'optional',
  metadataFields: ['instance_url', 'id'],
  // No expires_in in token responses: assume the default org session timeout of 2 hours. Unverified per org:
  // an org with a shorter timeout should set `default_expires_in` in the providers file.
  defaultExpiresIn: 7200,
}
