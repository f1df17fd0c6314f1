import { Type } from '@sinclair/typebox'
import { EVENT_NAMES } from '../../events/events.js'
import { AccountId, Instant, Nullable, Time } from './common.js'

export const EventNameSchema = Type.Union(EVENT_NAMES.map((e) => Type.Literal(e)))

export const AuditQuery = Type.Object(
  {
    account: Type.Optional(AccountId),
    event: Type.Optional(EventNameSchema),
    since: Type.Optional(Instant),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)

const Text = Nullable(Type.String())

export const AuditEntryBody = Type.Object(
  {
    id: Type.String(),
    time: Time,
    event: EventNameSchema,
    account: Text,
    provider: Text,
    sub: Text,
    request_id: Text,
    outcome: Text,
    detail: Text,
  },
  { additionalProperties: false },
)

export const AuditBody = Type.Object(
  {
    entries: Type.Array(AuditEntryBody),
    next_cursor: Nullable(Type.String()),
  },
  { additionalProperties: false },
)
