import { providerFetch } from './http.js'

/** Who completed a link at an OpenID provider: never a token, only the subject and a verified email. */
export interface ProviderIdentity {
  sub: string
  /** Only when the provider does not say it is unverified. */
  email: string | null
}

/**
 * Asks the provider's userinfo endpoint (discovered on the issuer's host) who the fresh
 * access token belongs to. null when it cannot tell (no openid scope, an error, a timeout):
 * the caller decides whether that is acceptable.
 */
export async function fetchIdentity(userinfoUrl: string, accessToken: string, timeoutMs: number): Promise<ProviderIdentity | null> {
  try {
    const res = await providerFetch(
      userinfoUrl,
      { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } },
      timeoutMs,
    )
    const body = res.body as Record<string, unknown> | null
    if (res.status !== 200 || !body || typeof body !== 'object') return null
    const { sub, email, email_verified: verified } = body
    if (typeof sub !== 'string' || sub === '' || sub.length > 255) return null
    const usableEmail = typeof email === 'string' && email.length <= 320 && verified !== false && verified !== 'false' ? email : null
    return { sub, email: usableEmail }
  } catch {
    return null
  }
}

/** `expected` is the provider's `sub`, or (containing `@`) its verified email, compared case-insensitively. */
export function identityMatches(identity: ProviderIdentity | null, expected: string): boolean {
  if (!identity) return false
  if (identity.sub === expected) return true
  return expected.includes('@') && identity.email !== null && identity.email.toLowerCase() === expected.toLowerCase()
}

/** The audit trail's short description of an identity. */
export const describeIdentity = (identity: ProviderIdentity | null): string =>
  identity === null ? 'identity unknown' : `sub=${identity.sub}${identity.email ? ` email=${identity.email}` : ''}`
