import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'

/** Built-in templates by name. `oauth2` is the generic one; `oidc` expects an issuer. */
export const TEMPLATES: Record<string, ProviderTemplate> = {
  oauth2: OAUTH2_DEFAULTS,
  oidc: { ...OAUTH2_DEFAULTS, scopes: ['openid', 'offline_access'] },
}
