/** Security-relevant things that happen, for the audit trail, webhooks and logs. */
export const EVENT_NAMES = [
  'account.link_started',
  'account.linked',
  'account.imported',
  'account.refreshed',
  'account.refresh_failed',
  'account.reuse_detected',
  'account.reauth_required',
  'account.recovered',
  'account.revoked',
  'caller.denied',
  'token.issued',
] as const
export type EventName = (typeof EVENT_NAMES)[number]

/** Who caused an event: the caller's `sub` and the request id, when a request did. */
export interface EventContext {
  sub?: string
  requestId?: string
}

/** One event. Never carries a token, code, verifier or secret. */
export interface BrokerEvent extends EventContext {
  event: EventName
  account?: string
  provider?: string
  /** success, failed, invalid_grant, transient, wiped, kept_newer, 401, 403, ... */
  outcome?: string
  /** Short non-secret detail (an error code, a failure class). */
  detail?: string
}

/** Where events go. `emit` never throws and never blocks the request on slow sinks. */
export interface EventSink {
  emit(event: BrokerEvent): void
}
