import type { LinkResult } from '../broker/link/complete-link.js'
import type { LinkStarted } from '../broker/link/start-link.js'
import type { AccountState, IssuedToken } from '../broker/results.js'

/** The domain's answers in the contract's JSON: snake_case, ISO 8601 times. */
const isoOf = new Map<number, string>()

/** ISO 8601; a token's expiry is formatted once, not on every answer that carries it. */
function iso(ms: number | null): string | null {
  if (ms === null) return null
  let text = isoOf.get(ms)
  if (text === undefined) {
    if (isoOf.size >= 10_000) isoOf.clear()
    text = new Date(ms).toISOString()
    isoOf.set(ms, text)
  }
  return text
}
const EPOCH = new Date(0).toISOString()

export function accessBody(t: IssuedToken) {
  return {
    account: t.account,
    provider: t.provider,
    access_token: t.accessToken,
    token_type: t.tokenType,
    expires_at: iso(t.expiresAt),
    expires_in: expiresIn(t),
    scope: t.scope,
  }
}

function expiresIn(t: IssuedToken): number | null {
  return t.expiresAt === null ? null : Math.max(0, Math.floor((t.expiresAt - t.issuedAt) / 1000))
}

/** The access body's JSON before and after `expires_in`, per near-cache entry. */
const heldJson = new WeakMap<object, { head: string; tail: string }>()

/**
 * `JSON.stringify(accessBody(t))`. For a token from a near-cache entry, everything but
 * `expires_in` is serialized once per entry: JSON.stringify of the whole body cost about 1 µs on
 * each of the hot path's answers (bench/README.md), joining three strings costs a tenth of that.
 */
export function accessJson(t: IssuedToken): string {
  if (t.heldAs === undefined) return JSON.stringify(accessBody(t))
  let parts = heldJson.get(t.heldAs)
  if (parts === undefined) {
    const { expires_in: _changes, scope, ...before } = accessBody(t)
    parts = { head: `${JSON.stringify(before).slice(0, -1)},"expires_in":`, tail: `,"scope":${JSON.stringify(scope)}}` }
    heldJson.set(t.heldAs, parts)
  }
  return parts.head + String(expiresIn(t)) + parts.tail
}

/** Unreadable stored times show as null, or as the epoch where the contract requires a time. */
export function accountBody(a: AccountState) {
  return {
    account: a.account,
    provider: a.provider,
    status: a.status,
    scope: a.scope,
    expires_at: iso(a.expiresAt),
    created_at: iso(a.createdAt) ?? EPOCH,
    updated_at: iso(a.updatedAt) ?? EPOCH,
    last_refreshed_at: iso(a.refreshedAt),
    last_error: a.lastError,
  }
}

export function linkStartedBody(l: LinkStarted) {
  return { authorization_url: l.authorizationUrl, state: l.state, expires_at: iso(l.expiresAt) }
}

export function linkedBody(l: LinkResult) {
  return { account: l.account, provider: l.provider, status: 'linked' as const, scope: l.scope, expires_at: iso(l.expiresAt) }
}
