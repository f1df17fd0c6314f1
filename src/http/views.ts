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

/** Strings JSON writes as they are, between quotes (printable ASCII but `"` and `\\`). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

function quoted(s: string | null): string {
  if (s === null) return 'null'
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s)
}

/** The access body's JSON up to `expires_in`'s value, and after it. */
const headOf = (t: IssuedToken) =>
  `{"account":${quoted(t.account)},"provider":${quoted(t.provider)},"access_token":${quoted(t.accessToken)},"token_type":${quoted(t.tokenType)},"expires_at":${quoted(iso(t.expiresAt))},"expires_in":`
const tailOf = (t: IssuedToken) => `,"scope":${quoted(t.scope)}}`

/**
 * Per near-cache entry: its access body's JSON before and after `expires_in`, and the last body
 * made from them (`expires_in` changes once a second; a busy entry answers many times in one).
 */
const heldJson = new WeakMap<object, { head: string; tail: string; expiresIn: string; body: string }>()

/**
 * `JSON.stringify(accessBody(t))`, written field by field (half the time of JSON.stringify of
 * the object on Node 20, which cost about 1 µs of each uncached answer: bench/README.md). For
 * a token from a near-cache entry, everything but `expires_in` is written once per entry, and
 * the whole body once a second.
 */
export function accessJson(t: IssuedToken): string {
  const n = String(expiresIn(t))
  if (t.heldAs === undefined) return headOf(t) + n + tailOf(t)
  let kept = heldJson.get(t.heldAs)
  if (kept === undefined) {
    const head = headOf(t)
    const tail = tailOf(t)
    kept = { head, tail, expiresIn: n, body: head + n + tail }
    heldJson.set(t.heldAs, kept)
  } else if (kept.expiresIn !== n) {
    kept.expiresIn = n
    kept.body = kept.head + n + kept.tail
  }
  return kept.body
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
