import type { EventName } from './events.js'

/** One delivery of one event to one URL. The body is fixed at enqueue: every attempt sends the same bytes. */
export interface WebhookJob {
  /** The delivery id (x-token-broker-delivery, and `delivery_id` in the signed body); the body's `id` is the event's, shared by every URL. */
  id: string
  url: string
  event: EventName
  body: string
}

export interface ClaimedJob extends WebhookJob {
  /** 1 for the first attempt. */
  attempt: number
}

/**
 * A durable at-least-once queue of deliveries. `claim` leases jobs (they come back after
 * the lease if the worker dies); `complete` removes one; `retryAt` reschedules one that
 * is still queued. Redis and memory pass one contract.
 */
export interface WebhookQueue {
  enqueue(jobs: WebhookJob[], now: number): Promise<void>
  claim(now: number, limit: number, leaseMs: number): Promise<ClaimedJob[]>
  complete(id: string): Promise<void>
  retryAt(id: string, at: number): Promise<void>
  /** Jobs waiting or in flight. */
  size(): Promise<number>
}
