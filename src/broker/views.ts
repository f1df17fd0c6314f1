import type { GrantRecord } from '../store/store.js'

const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** ISO 8601, or null for a missing or unreadable stored time (years 0 to 9999 only). */
const iso = (ms: number | null) =>
  (ms === null || !Number.isFinite(ms) || ms < -62_167_219_200_000 || ms > LATEST ? null : new Date(ms).toISOString())

/** Whether a stored grant has a field its views cannot show as stored (they show null instead). */
export function hasUnreadableField(g: GrantRecord): boolean {
  const times = [g.createdAt, g.updatedAt, g.refreshedAt, g.expiresAt]
  return times.some((t) => t !== null && iso(t) === null) || (g.lastError !== null && parseLastError(g.lastError) === null)
}

function parseLastError(text: string): AccountView['last_error'] {
  try {
    const value = JSON.parse(text) as AccountView['last_error']
    return value && typeof value.code === 'string' && typeof value.message === 'string' && iso(Date.parse(value.at)) !== null
      ? { code: value.code, message: value.message, at: value.at } : null
  } catch {
    return null
  }
}

export interface AccountView {
  account: string
  provider: string
  status: GrantRecord['status']
  scope: string | null
  expires_at: string | null
  created_at: string
  updated_at: string
  last_refreshed_at: string | null
  last_error: { code: string; message: string; at: string } | null
}

const EPOCH = new Date(0).toISOString()

/** Account metadata: never a token. Unreadable stored fields show as null (times as the epoch). */
export function accountView(account: string, g: GrantRecord): AccountView {
  return {
    account,
    provider: g.provider,
    status: g.status,
    scope: g.scope,
    expires_at: iso(g.expiresAt),
    created_at: iso(g.createdAt) ?? EPOCH,
    updated_at: iso(g.updatedAt) ?? EPOCH,
    last_refreshed_at: iso(g.refreshedAt),
    last_error: g.lastError ? parseLastError(g.lastError) : null,
  }
}

export interface AccessView {
  account: string
  provider: string
  access_token: string
  token_type: string
  expires_at: string | null
  expires_in: number | null
  scope: string | null
}

export function accessView(account: string, g: GrantRecord, accessToken: string, now: number): AccessView {
  return {
    account,
    provider: g.provider,
    access_token: accessToken,
    token_type: g.tokenType,
    expires_at: iso(g.expiresAt),
    expires_in: g.expiresAt === null ? null : Math.max(0, Math.floor((g.expiresAt - now) / 1000)),
    scope: g.scope,
  }
}

/** The JSON stored in `last_error`. */
export function lastError(code: string, message: string, now: number): string {
  return JSON.stringify({ code, message, at: new Date(now).toISOString() })
}
