import { Type, type Static, type TSchema } from '@sinclair/typebox'

export const ACCOUNT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$'

export const AccountId = Type.String({ pattern: ACCOUNT_ID_PATTERN, minLength: 1, maxLength: 128 })
export const ProviderName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', minLength: 1, maxLength: 64 })
export const Instant = Type.String({ format: 'date-time', maxLength: 64 })
/** A time in a response: ISO 8601. */
export const Time = Type.String({ format: 'date-time' })
/**
 * A value or null. A scalar is `type: [t, 'null']`: the response serializer writes it directly,
 * where an `anyOf` would make it validate the value against each branch on every response.
 */
export const Nullable = <T extends TSchema>(t: T) =>
  typeof t.type === 'string' && t.type !== 'object' && t.type !== 'array'
    ? Type.Unsafe<Static<T> | null>({ ...t, type: [t.type, 'null'] })
    : Type.Union([t, Type.Null()])

export const AccountParams = Type.Object({ account: AccountId }, { additionalProperties: false })

/** The contract's error shape (docs/api.md, Errors), shared by every route's 4xx/5xx responses by $id. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String(),
    error: Type.String(),
    message: Type.String(),
  },
  { $id: 'Error', additionalProperties: false },
)

export const ErrorRef = Type.Ref('Error')

/** Response map entries for the errors every authenticated route can answer. */
export const authErrors = { 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 429: ErrorRef, 503: ErrorRef }
