import type { GrantRecord, GrantStatus } from './store.js'

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
