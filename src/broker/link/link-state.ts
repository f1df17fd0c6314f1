import { createHash, randomBytes } from 'node:crypto'

/** What a pending link remembers between /connect and the callback; sealed in the store. */
export interface LinkState {
  provider: string
  account: string
  scope: string
  /** The caller's `sub`, for the audit trail. */
  sub: string
  returnTo: string | null
  /** PKCE verifier (RFC 7636), or null when the provider does not take PKCE. */
  verifier: string | null
  /** The issuer the request went to (RFC 9207 mix-up defense), when known. */
  issuer: string | null
  /** Whether the provider promised to send `iss` on its responses. */
  issRequired: boolean
  /** The only provider identity (`sub`, or verified email) allowed to complete this link; absent = anyone. */
  expectedSubject?: string | null
  createdAt: number
}

export const STATE_TTL_SECONDS = 600
/** The AAD field of a sealed link state: binds it to its state value. */
export const STATE_FIELD = 'connect'

export const newState = () => randomBytes(32).toString('base64url')
export const newVerifier = () => randomBytes(32).toString('base64url')
export const challengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')
