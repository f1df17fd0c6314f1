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
 * The serving view (hash field `sv1`): the short fields of a `ServingGrant`, packed into one
 * value by each script that changes one of them (`pack_view` in lua/serving-view.ts), so the
 * hot path reads four fields, not ten. The scope (long, and free text) and the sealed access
 * token are read as their own fields. `token_type` comes last: it is the provider's text, so a
 * newline in it cannot shift the others.
 *
 * The field's name carries the layout's number: a change to VIEW_FIELDS takes a new name
 * (`sv2`, with the write scripts dropping `sv1`), so instances of two versions sharing a Redis
 * never read each other's layout, and never undo each other's packing.
 */
export const VIEW_FIELD = 'sv1'
export const VIEW_FIELDS = ['provider', 'status', 'version', 'expires_at', 'iat', 'src', 'retry_at', 'token_type'] as const
/** What the hot path reads of a grant hash, in this order: the view, the sealed access token, the version, the scope. */
export const SERVING_READ = [VIEW_FIELD, 'at', 'version', 'scope'] as const

const orNull = (v: string | null) => (v === null || v === '' ? null : Number(v))
/** One field of the view: '' is an absent field, '=' + value a present one. */
const fieldOf = (part: string | undefined) => (part === undefined || part === '' ? null : part.slice(1))

/**
 * The serving grant from `SERVING_READ`'s values: null when there is no grant (no version),
 * undefined when the view is missing or was packed at another version than the hash holds (a
 * grant written before the view existed, or by an instance that does not keep it): then the
 * `repackView` script reads the fields themselves.
 */
export function servingFromRead([view, accessToken, version, scope]: (string | null)[]): ServingGrant | null | undefined {
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
    scope: scope ?? null,
    tokenType: fieldOf(parts[7]) ?? 'Bearer',
    expiresAt: orNull(fieldOf(parts[3])),
    issuedAt: orNull(fieldOf(parts[4])),
    fromProvider: fieldOf(parts[5]) === 'p',
    retryAt: orNull(fieldOf(parts[6])),
    accessToken: accessToken ?? null,
  }
}
