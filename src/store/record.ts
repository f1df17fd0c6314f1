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

/** The hash fields of a `ServingGrant`, in the order `servingFromFields` reads them. */
export const SERVING_FIELDS = [
  'provider',
  'status',
  'version',
  'scope',
  'token_type',
  'expires_at',
  'iat',
  'src',
  'retry_at',
  'at',
] as const

const orNull = (v: string | null) => (v === null || v === '' ? null : Number(v))

/** HMGET of `SERVING_FIELDS`, or null when the hash is absent. */
export function servingFromFields(v: (string | null)[]): ServingGrant | null {
  const [provider, status, version, scope, tokenType, expiresAt, issuedAt, src, retryAt, accessToken] = v
  if (provider === null || provider === undefined) return null
  return {
    provider,
    status: (status ?? 'active') as GrantStatus,
    version: Number(version ?? 0),
    scope: scope ?? null,
    tokenType: tokenType ?? 'Bearer',
    expiresAt: orNull(expiresAt ?? null),
    issuedAt: orNull(issuedAt ?? null),
    fromProvider: src === 'p',
    retryAt: orNull(retryAt ?? null),
    accessToken: accessToken ?? null,
  }
}
