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
 * The hash fields of a `ServingGrant`, in the order the `readServing` script returns them.
 * `scope` comes last: it is the one field that holds the provider's free text, so a newline
 * in it cannot shift the others.
 */
export const SERVING_FIELDS = [
  'provider',
  'status',
  'version',
  'token_type',
  'expires_at',
  'iat',
  'src',
  'retry_at',
  'at',
  'scope',
] as const

const orNull = (v: string | null) => (v === null || v === '' ? null : Number(v))
/** One field of the `readServing` reply: '' is an absent field, '=' + value a present one. */
const fieldOf = (part: string) => (part === '' ? null : part.slice(1))

/**
 * The `readServing` script's reply (`SERVING_FIELDS`, each absent or '=' + value, joined by
 * newlines), or null when the hash is absent.
 */
export function servingFromReply(reply: string | null): ServingGrant | null {
  if (reply === null) return null
  const parts = reply.split('\n')
  const last = SERVING_FIELDS.length - 1
  if (parts.length > SERVING_FIELDS.length) parts[last] = parts.splice(last).join('\n')
  const [provider, status, version, tokenType, expiresAt, issuedAt, src, retryAt, accessToken, scope] = parts.map(fieldOf)
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
