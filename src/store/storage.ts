import type { AuditLog } from '../events/audit-log.js'
import type { WebhookQueue } from '../events/webhook-queue.js'
import type { RateLimitBackend } from './rate-limit-counters.js'
import type { Store } from './store.js'

/**
 * Everything the service keeps, in one place: Redis, or memory for the embedded store. Nothing
 * outside src/store/ talks to Redis; a failed Redis call surfaces as StoreUnavailableError.
 */
export interface Storage {
  /** Grants, refresh locks, the refresh-due index, link states and the change feed. */
  grants: Store
  audit: AuditLog
  webhooks: WebhookQueue
  /** Counters shared by every instance for the rate limiter; null keeps them in the process. */
  rateLimit: RateLimitBackend | null
  /**
   * Connects; resolves with the error when Redis cannot be reached yet (it keeps trying in
   * the background, and calls fail with StoreUnavailableError until it is back).
   */
  connect(): Promise<Error | null>
  /** Rejects with StoreUnavailableError when the store does not answer. */
  ping(): Promise<void>
  close(): Promise<void>
}
