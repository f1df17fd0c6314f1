import { Type } from '@sinclair/typebox'
import { AccountId, Instant, Nullable, ProviderName, Time } from './common.js'

const Token = Type.String({ minLength: 1, maxLength: 8192 })
const Status = Type.Union([Type.Literal('active'), Type.Literal('reauth_required')])

export const ImportBody = Type.Object(
  {
    provider: ProviderName,
    refresh_token: Type.Optional(Token),
    access_token: Type.Optional(Token),
    token_type: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    expires_at: Type.Optional(Instant),
    // 0 means expired now (refreshed on first use); above a year is clamped to a year.
    expires_in: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 * 365 * 86400 })),
    scope: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
)

export const AccountBody = Type.Object(
  {
    account: AccountId,
    provider: Type.String(),
    status: Status,
    scope: Nullable(Type.String()),
    expires_at: Nullable(Time),
    created_at: Time,
    updated_at: Time,
    last_refreshed_at: Nullable(Time),
    last_error: Nullable(Type.Object({ code: Type.String(), message: Type.String(), at: Time })),
  },
  { $id: 'Account', additionalProperties: false },
)

export const ListQuery = Type.Object(
  {
    provider: Type.Optional(ProviderName),
    status: Type.Optional(Status),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)

export const ListBody = Type.Object(
  {
    accounts: Type.Array(Type.Ref('Account')),
    next_cursor: Nullable(Type.String()),
  },
  { additionalProperties: false },
)
