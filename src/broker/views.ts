import type { GrantRecord } from '../store/store.js'

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

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

/** Account metadata: never a token. */
export function accountView(account: string, g: GrantRecord): AccountView {
  return {
    account,
    provider: g.provider,
    status: g.status,
    scope: g.scope,
    expires_at: iso(g.expiresAt),
    created_at: iso(g.createdAt)!,
    updated_at: iso(g.updatedAt)!,
    last_refreshed_at: iso(g.refreshedAt),
    last_error: g.lastError ? (JSON.parse(g.lastError) as AccountView['last_error']) : null,
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
