import { readFileSync } from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../config-error.js'
import { PROVIDER_NAME, schemaErrorMessage, syntaxErrorMessage } from './providers-file-errors.js'
import type { ProviderTemplate, TokenAuthMethod } from './template.js'
import { TEMPLATES } from './templates/index.js'
import { isHttpsOrLoopback } from '../url-policy.js'

const Url = Type.String({ minLength: 1, maxLength: 2048 })
const Params = Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 2048 }))

const ProviderEntry = Type.Object(
  {
    template: Type.Optional(Type.String({ maxLength: 64 })),
    issuer: Type.Optional(Url),
    authorization_url: Type.Optional(Url),
    token_url: Type.Optional(Url),
    revocation_url: Type.Optional(Url),
    client_id: Type.String({ minLength: 1, maxLength: 1024 }),
    client_secret: Type.Optional(
      Type.Union([
        Type.String({ minLength: 1, maxLength: 4096 }),
        Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 8 }),
      ]),
    ),
    token_auth_method: Type.Optional(Type.Union([Type.Literal('client_secret_basic'), Type.Literal('client_secret_post')])),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100 })),
    pkce: Type.Optional(Type.Boolean()),
    authorize_params: Type.Optional(Params),
    /** Seconds a token lives when the provider's response has no expires_in (overrides the template). */
    default_expires_in: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 * 86_400 })),
    /** Seconds after which the provider drops an unused refresh token (overrides the template). */
    refresh_token_idle_ttl: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86_400 })),
    /**
     * Hosts (`host` or `host:port`) besides the issuer's own that OIDC discovery may name as
     * endpoints (a token endpoint on another domain, such as Google's oauth2.googleapis.com).
     */
    allowed_hosts: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 261, pattern: '^([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:\\d{1,5})?$' }), {
        maxItems: 32,
      }),
    ),
    /** Values substituted into `{name}` placeholders of the URLs (Microsoft's tenant), over the template's defaults. */
    params: Type.Optional(Params),
  },
  { additionalProperties: false },
)

const ProvidersFile = Type.Object(
  {
    // additionalProperties: a name that does not match the pattern is an error, not unchecked.
    providers: Type.Record(Type.String({ pattern: PROVIDER_NAME }), ProviderEntry, { additionalProperties: false }),
  },
  { additionalProperties: false },
)

type ProviderEntry = Static<typeof ProviderEntry>

/** A provider ready to use: template merged with the file's entry, secrets resolved. */
export interface ProviderConfig extends ProviderTemplate {
  name: string
  template: string
  clientId: string
  /** Tried in order, so a rotated client secret can be rolled out before the old one dies. */
  clientSecrets: string[]
  tokenAuthMethod: TokenAuthMethod
  /** `URL#host` values, besides the issuer's, that discovered endpoints may live on. */
  allowedHosts: string[]
}

/** A provider left out because none of the `${VAR}`s it uses is set (a warning at start names it). */
export interface SkippedProvider {
  name: string
  variables: string[]
}

export interface LoadedProviders {
  providers: ProviderConfig[]
  skipped: SkippedProvider[]
}

export function loadProvidersFile(path: string, env: NodeJS.ProcessEnv): ProviderConfig[] {
  return loadProviders(path, env).providers
}

export function loadProviders(path: string, env: NodeJS.ProcessEnv): LoadedProviders {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigError(
      'PROVIDERS_FILE',
      `cannot read ${path}${code === 'EISDIR' ? ' (it is a directory)' : code === 'ENOENT' ? ' (no such file)' : ''}`,
    )
  }
  let data: unknown
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new ConfigError(
      'PROVIDERS_FILE',
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${syntaxErrorMessage(error, text)}`,
    )
  }
  return readProviders(data, env, path)
}

export function parseProviders(data: unknown, env: NodeJS.ProcessEnv): ProviderConfig[] {
  return readProviders(data, env).providers
}

/**
 * Every provider of the file, resolved. A provider none of whose `${VAR}`s is set is skipped
 * (an example file can list providers the operator has not configured); one with some set and
 * others not is an error, since that is a typo or a forgotten variable.
 */
export function readProviders(data: unknown, env: NodeJS.ProcessEnv, path = 'PROVIDERS_FILE'): LoadedProviders {
  const error = Value.Errors(ProvidersFile, data).First()
  if (error) throw new ConfigError('PROVIDERS_FILE', `${path}: ${schemaErrorMessage(error, data)}`)
  const file = data as Static<typeof ProvidersFile>
  const loaded: LoadedProviders = { providers: [], skipped: [] }
  for (const [name, entry] of Object.entries(file.providers)) {
    const variables = [...new Set(JSON.stringify(entry).match(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g) ?? [])].map((v) => v.slice(2, -1))
    const unset = variables.filter((v) => env[v] === undefined || env[v] === '')
    if (variables.length > 0 && unset.length === variables.length) loaded.skipped.push({ name, variables })
    else loaded.providers.push(resolveProvider(name, resolveVars(entry, env, name, variables)))
  }
  return loaded
}

function resolveVars<T>(value: T, env: NodeJS.ProcessEnv, provider: string, all: string[]): T {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name]
      if (v === undefined || v === '') {
        throw new ConfigError(
          name,
          `is not set (provider "${provider}" in PROVIDERS_FILE uses ${all.join(', ')}: set all of them, or none to skip the provider)`,
        )
      }
      return v
    }) as T
  }
  if (Array.isArray(value)) return value.map((v) => resolveVars(v, env, provider, all)) as T
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVars(v, env, provider, all)])) as T
  }
  return value
}

function resolveProvider(name: string, entry: ProviderEntry): ProviderConfig {
  const templateName = entry.template ?? 'oauth2'
  const template = TEMPLATES[templateName]
  if (!template) throw new ConfigError('PROVIDERS_FILE', `provider "${name}": unknown template "${templateName}"`)
  // `{client_id}` is always known (GitHub's revocation URL); the template's defaults yield to the entry's params.
  const params = { ...template.urlParams, ...entry.params, client_id: entry.client_id }
  const fill = (url: string | undefined) => (url ? fillParams(url, params, name) : undefined)
  const provider: ProviderConfig = {
    ...template,
    name,
    template: templateName,
    issuer: fill(entry.issuer ?? template.issuer),
    authorizationUrl: fill(entry.authorization_url ?? template.authorizationUrl),
    tokenUrl: fill(entry.token_url ?? template.tokenUrl),
    revocationUrl: fill(entry.revocation_url ?? template.revocationUrl),
    clientId: entry.client_id,
    clientSecrets: entry.client_secret === undefined ? [] : [entry.client_secret].flat(),
    tokenAuthMethod: entry.token_auth_method ?? template.tokenAuthMethod,
    scopes: entry.scopes ?? template.scopes,
    pkce: entry.pkce ?? template.pkce,
    authorizeParams: { ...template.authorizeParams, ...entry.authorize_params },
    defaultExpiresIn: entry.default_expires_in ?? template.defaultExpiresIn,
    refreshTokenIdleTtl: entry.refresh_token_idle_ttl ?? template.refreshTokenIdleTtl,
    allowedHosts: (entry.allowed_hosts ?? []).map((host) => {
      if (!URL.canParse(`https://${host}`))
        throw new ConfigError('PROVIDERS_FILE', `provider "${name}": allowed_hosts entry "${host}" is not a host`)
      return new URL(`https://${host}`).host
    }),
  }
  if (!provider.issuer && !(provider.authorizationUrl && provider.tokenUrl)) {
    throw new ConfigError('PROVIDERS_FILE', `provider "${name}" needs issuer, or authorization_url and token_url`)
  }
  for (const url of [provider.issuer, provider.authorizationUrl, provider.tokenUrl, provider.revocationUrl]) {
    if (url !== undefined) assertProviderUrl(url, name)
  }
  return provider
}

function fillParams(url: string, params: Record<string, string>, provider: string): string {
  return url.replace(/\{([a-z_]+)\}/g, (_, key: string) => {
    const v = params[key]
    if (v === undefined) throw new ConfigError('PROVIDERS_FILE', `provider "${provider}" needs params.${key}`)
    return encodeURIComponent(v)
  })
}

/** https everywhere; plain http only on loopback (local development and tests). */
export const isAllowedProviderUrl = isHttpsOrLoopback

function assertProviderUrl(url: string, provider: string): void {
  if (!URL.canParse(url)) throw new ConfigError('PROVIDERS_FILE', `provider "${provider}": "${url}" is not a URL`)
  if (!isAllowedProviderUrl(url)) {
    throw new ConfigError('PROVIDERS_FILE', `provider "${provider}": ${new URL(url).origin} must use https`)
  }
}
