import { createSigner } from 'fast-jwt'
import type { Env } from '../config.js'
import { usageError } from './io.js'

export interface CallerClaims {
  sub: string
  scopes: string[]
  accounts?: string[]
}

/** A caller JWT signed with AUTH_JWT_SECRET (HS256), with iss/aud when the broker requires them. */
export function mintCallerJwt(env: Env, claims: CallerClaims, ttlSeconds: number): string {
  if (!env.AUTH_JWT_SECRET) throw usageError('AUTH_JWT_SECRET must be set to mint a token')
  const sign = createSigner({
    key: env.AUTH_JWT_SECRET,
    algorithm: 'HS256',
    expiresIn: ttlSeconds * 1000,
    ...(env.AUTH_JWT_ISSUER ? { iss: env.AUTH_JWT_ISSUER } : {}),
    ...(env.AUTH_JWT_AUDIENCE ? { aud: env.AUTH_JWT_AUDIENCE } : {}),
  })
  const payload: Record<string, unknown> = { sub: claims.sub, scope: claims.scopes.join(' ') }
  if (claims.accounts) payload.accounts = claims.accounts
  return sign(payload)
}

/** `--ttl` as whole seconds within bounds. */
export function ttlOption(value: string | undefined, fallback: number, max: number): number {
  const ttl = Number(value ?? fallback)
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > max) throw usageError(`--ttl must be whole seconds, 60 to ${max}`)
  return ttl
}
