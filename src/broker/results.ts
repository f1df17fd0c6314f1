import type { GrantRecord, ServingGrant } from '../store/store.js'

/** What a caller is handed: an opened access token and what it is good for. */
export interface IssuedToken {
  account: string
  provider: string
  accessToken: string
  tokenType: string
  /** Epoch ms, or null when the provider gave no lifetime. */
  expiresAt: number | null
  scope: string | null
  /** When it was handed out (the broker's clock): `expires_in` counts from here. */
  issuedAt: number
  /**
   * For a token from the near cache, its entry's grant: the same object, never changed, for as
   * long as the entry lives (renewals keep it). What the HTTP layer derives from the token once
   * is keyed by it, and goes with the entry. Undefined for any other token.
   */
  heldAs?: object
}

/** An account's metadata: never a token. Times are epoch ms; a stored value that cannot be read is null. */
export interface AccountState {
  account: string
  provider: string
  status: GrantRecord['status']
  scope: string | null
  expiresAt: number | null
  createdAt: number | null
  updatedAt: number | null
  refreshedAt: number | null
  lastError: { code: string; message: string; at: string } | null
}

const EARLIEST = -62_167_219_200_000 // year 0
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A stored time, or null when it is missing or outside years 0 to 9999 (it could not be shown). */
const readable = (ms: number | null): number | null => (ms === null || !Number.isFinite(ms) || ms < EARLIEST || ms > LATEST ? null : ms)

function parseLastError(text: string): AccountState['lastError'] {
  try {
    const value = JSON.parse(text) as AccountState['lastError']
    return value && typeof value.code === 'string' && typeof value.message === 'string' && readable(Date.parse(value.at)) !== null
      ? { code: value.code, message: value.message, at: value.at }
      : null
  } catch {
    return null
  }
}

/** The account's metadata, and whether a stored field could not be read (shown as null). */
export function accountStateOf(account: string, g: GrantRecord): { state: AccountState; unreadable: boolean } {
  const state: AccountState = {
    account,
    provider: g.provider,
    status: g.status,
    scope: g.scope,
    expiresAt: readable(g.expiresAt),
    createdAt: readable(g.createdAt),
    updatedAt: readable(g.updatedAt),
    refreshedAt: readable(g.refreshedAt),
    lastError: g.lastError ? parseLastError(g.lastError) : null,
  }
  const times: [number | null, number | null][] = [
    [g.expiresAt, state.expiresAt],
    [g.createdAt, state.createdAt],
    [g.updatedAt, state.updatedAt],
    [g.refreshedAt, state.refreshedAt],
  ]
  const unreadable =
    times.some(([stored, shown]) => stored !== null && shown === null) || (g.lastError !== null && state.lastError === null)
  return { state, unreadable }
}

export function issuedToken(account: string, g: ServingGrant, accessToken: string, now: number, heldAs?: object): IssuedToken {
  return {
    account,
    provider: g.provider,
    accessToken,
    tokenType: g.tokenType,
    expiresAt: g.expiresAt,
    scope: g.scope,
    issuedAt: now,
    heldAs,
  }
}

/** The JSON stored in `last_error`. */
export function lastError(code: string, message: string, now: number): string {
  return JSON.stringify({ code, message, at: new Date(now).toISOString() })
}
