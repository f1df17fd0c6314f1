import { sanitizeLifetime, type LifetimeAnomaly } from './lifetime.js'
import type { ProviderConfig } from './providers-file.js'

/** A token response, normalized. Secrets stay in memory only until they are sealed. */
export interface TokenSet {
  accessToken: string
  refreshToken: string | null
  /**
   * Seconds (0: expired now), or null when the provider gave no lifetime and its template
   * has no `defaultExpiresIn` (Notion). Sanitized: see sanitizeLifetime.
   */
  expiresIn: number | null
  /** Set when the provider's `expires_in` was absurd and had to be sanitized. */
  lifetimeAnomaly: LifetimeAnomaly | null
  tokenType: string
  scope: string | null
  /** Non-secret fields the template keeps (instance_url...). */
  meta: Record<string, string> | null
}

const MAX_TOKEN = 16_384

/**
 * Parses defensively: expires_in as number or numeric string, token_type defaulting to
 * Bearer, unknown fields ignored, tokens taken from the template's path (Slack's authed_user),
 * scope normalized to space-separated whatever separator (or array) the provider uses.
 * Returns null when no usable access token is present.
 */
export function parseTokenResponse(provider: ProviderConfig, body: unknown): TokenSet | null {
  const root = asRecord(body)
  if (!root) return null
  const nested = provider.tokenPath ? asRecord(dig(root, provider.tokenPath)) : null
  const source = nested && typeof nested.access_token === 'string' ? nested : root
  const accessToken = str(source.access_token)
  if (!accessToken || accessToken.length > MAX_TOKEN) return null
  const refreshToken = str(source.refresh_token)
  const scopeValue = source.scope ?? root.scope
  const meta: Record<string, string> = {}
  for (const field of provider.metadataFields) {
    const value = str(root[field]) ?? str(source[field])
    if (value !== null) meta[field] = value.slice(0, 2048)
  }
  const lifetime = sanitizeLifetime(source.expires_in ?? root.expires_in)
  return {
    accessToken,
    refreshToken: refreshToken && refreshToken.length <= MAX_TOKEN ? refreshToken : null,
    expiresIn: lifetime.seconds ?? provider.defaultExpiresIn,
    lifetimeAnomaly: lifetime.anomaly,
    tokenType: provider.fixedTokenType ?? normalizeTokenType(str(source.token_type) ?? str(root.token_type)),
    scope: normalizeScope(scopeValue, provider.responseScopeSeparator),
    meta: Object.keys(meta).length > 0 ? meta : null,
  }
}

/** Space-separated scopes, from an array or a string split on the template's separator (GitHub's commas). */
function normalizeScope(value: unknown, separator: string): string | null {
  const parts = Array.isArray(value)
    ? value.filter((s): s is string => typeof s === 'string')
    : typeof value === 'string'
      ? value.split(separator === ' ' ? /\s+/ : separator)
      : []
  const scope = parts
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ')
  return scope === '' ? null : scope
}

function normalizeTokenType(value: string | null): string {
  if (!value || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) return 'Bearer'
  return value.toLowerCase() === 'bearer' ? 'Bearer' : value
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}

function dig(root: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => asRecord(node)?.[key], root)
}
