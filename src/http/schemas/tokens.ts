import { Type } from '@sinclair/typebox'
import { Nullable, Time } from './common.js'

export const AccessQuery = Type.Object(
  {
    min_ttl: Type.String({ pattern: '^[0-9]{1,4}$', default: '0' }),
  },
  { additionalProperties: false },
)

export const AccessBody = Type.Object(
  {
    account: Type.String(),
    provider: Type.String(),
    access_token: Type.String(),
    token_type: Type.String(),
    expires_at: Nullable(Time),
    expires_in: Nullable(Type.Integer()),
    scope: Nullable(Type.String()),
  },
  { $id: 'AccessToken', additionalProperties: false },
)
