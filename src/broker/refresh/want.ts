import type { EventContext } from '../../events/events.js'

/** What a caller will accept from a refresh. */
export interface Want {
  /** The token must have more than this left (min_ttl), unless the policy says it is the best there is. */
  minTtlMs: number
  /** The grant version the caller read. */
  seenVersion: number
  /** A new token is wanted (POST /refresh, the scheduler): only a newer grant satisfies. */
  force: boolean
  /** The token at `seenVersion` was rejected by the provider: it must never be the answer. */
  rejected: boolean
  /** Who asked (the first of the requests sharing this refresh), for the audit trail. */
  ctx: EventContext
}

/**
 * Whether the answer to `running` satisfies `next` too, so `next` may share it instead of
 * refreshing after it: a forced refresh is never answered by a weaker refresh that started
 * earlier, nor a higher min_ttl by a lower one.
 */
export function covers(running: Want, next: Want): boolean {
  if (next.force) return running.force && running.seenVersion >= next.seenVersion && (running.rejected || !next.rejected)
  return !running.rejected && (running.force || running.minTtlMs >= next.minTtlMs)
}
