import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../template.js'
import { atlassian } from './atlassian.js'
import { discord } from './discord.js'
import { dropbox } from './dropbox.js'
import { github } from './github.js'
import { gitlab } from './gitlab.js'
import { google } from './google.js'
import { hubspot } from './hubspot.js'
import { microsoft } from './microsoft.js'
import { notion } from './notion.js'
import { salesforce } from './salesforce.js'
import { slack } from './slack.js'
import { xero } from './xero.js'

/** Built-in templates by name. `oauth2` is the generic one; `oidc` expects an issuer. */
export const TEMPLATES: Record<string, ProviderTemplate> = {
  oauth2: OAUTH2_DEFAULTS,
  oidc: { ...OAUTH2_DEFAULTS, scopes: ['openid', 'offline_access'] },
  atlassian,
  discord,
  dropbox,
  github,
  gitlab,
  google,
  hubspot,
  microsoft,
  notion,
  salesforce,
  slack,
  xero,
}
