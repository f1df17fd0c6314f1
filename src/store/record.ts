import type { GrantRecord, GrantStatus, ServingGrant } from './store.js'

const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v))

/** A grant hash as Redis returns it (HGETALL), or null when the hash is absent. */
export function grantFromHash(hash: Record<string, string>): GrantRecord | null {
  if (hash.provider === undefined) return null
  return {
    provider: hash.provider,
    status: (hash.status ?? 'active') as GrantStatus,
    version: Number(hash.version ?? 0),
    grantId: hash.gid ?? '',
    scope: hash.scope ?? null,
    tokenType: hash.token_type ?? 'Bearer',
    createdAt: Number(hash.created_at ?? 0),
    updatedAt: Number(hash.updated_at ?? 0),
    refreshedAt: num(hash.refreshed_at),
    expiresAt: num(hash.expires_at),
    issuedAt: num(hash.iat),
    fromProvider: hash.src === 'p',
    retryAt: num(hash.retry_at),
    failures: Number(hash.fails ?? 0),
    accessToken: hash.at ?? null,
    refreshToken: hash.rt ?? null,
    lastError: hash.last_error ?? null,
    meta: hash.meta ?? null,
  }
}

/**
 * The serving view (hash field `sv`): every field of a `ServingGrant` but the sealed access
 * token, packed into one value by each script that changes one of them (`packView` in
 * lua/serving-view.ts), so the hot path reads three short fields, not ten. `scope` comes
 * last: it is the one field that holds the provider's free text, so a newline in it cannot
 * shift the others.
 */
export const VIEW_FIELD = 'sv'
export const VIEW_FIELDS = ['provider', 'status', 'version', 'token_type', 'expires_at', 'iat', 'src', 'retry_at', 'scope'] as const
/** What the hot path reads of a grant hash, in this order: the view, the sealed access token, the version. */
export const SERVING_READ = [VIEW_FIELD, 'at', 'version'] as const

const orNull = (v: string | null) => (v === null || v === '' ? null : Number(v))
/** One field of the view: '' is an absent field, '=' + value a present one. */
const fieldOf = (part: string | undefined) => (part === undefined || part === '' ? null : part.slice(1))

/**
 * The serving grant from `SERVING_READ`'s values: null when there is no grant (no version),
 * undefined when the view is missing or was packed at another version than the hash holds (a
 * grant written before the view existed, or by an instance that does not keep it): then the
 * `repackView` script reads the fields themselves.
 */
export function servingFromRead([view, accessToken, version]: (string | null)[]): ServingGrant | null | undefined {
  if (version === null || version === undefined) return null
  if (view === null || view === undefined) return undefined
  const parts = view.split('\n')
  const last = VIEW_FIELDS.length - 1
  if (parts.length > VIEW_FIELDS.length) parts[last] = parts.splice(last).join('\n')
  if (parts.length !== VIEW_FIELDS.length || fieldOf(parts[2]) !== version) return undefined
  const provider = fieldOf(parts[0])
  if (provider === null) return null
  return {
    provider,
    status: (fieldOf(parts[1]) ?? 'active') as GrantStatus,
    version: Number(version),
    scope: fieldOf(parts[8]),
    tokenType: fieldOf(parts[3]) ?? 'Bearer',
    expiresAt: orNull(fieldOf(parts[4])),
    issuedAt: orNull(fieldOf(parts[5])),
    fromProvider: fieldOf(parts[6]) === 'p',
    retryAt: orNull(fieldOf(parts[7])),
    accessToken: accessToken ?? null,
  }
}
