import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditLog } from './audit-log.js'
import type { BrokerEvent, EventName, EventSink } from './events.js'
import type { WebhookJob, WebhookQueue } from './webhook-queue.js'
import { throttled } from '../log-throttle.js'

/** The events receivers hear about: the ones that need a person (or tell that one is no longer needed). */
export const WEBHOOK_EVENTS: ReadonlySet<EventName> = new Set<EventName>([
  'account.linked',
  'account.reuse_detected',
  'account.reauth_required',
  'account.revoked',
  'account.recovered',
])

/** A sink that can also wait for the writes it started (the app does before closing the store). */
export interface DrainableSink extends EventSink {
  drain(): Promise<void>
}

export interface EventSinkOptions {
  audit: AuditLog
  queue: WebhookQueue
  webhookUrls: readonly string[]
  /** Audit token.issued too (it is frequent: every access token handed out). */
  auditAccess: boolean
  log: Logger
  clock?: () => number
}

/**
 * Appends every event to the audit trail and queues webhooks for the ones receivers get.
 * Never throws and never makes a request wait: writes run in the background, and a store
 * outage costs a warning a minute that names the event only.
 */
export function createEventSink(o: EventSinkOptions): DrainableSink {
  const clock = o.clock ?? Date.now
  const pending = new Set<Promise<void>>()
  const warn = throttled(60_000) // an outage fails every event: one warning a minute, with a count
  const track = (work: Promise<void>, event: EventName, what: string) => {
    const tracked = work
      .catch(() => {
        warn((suppressed) => o.log.warn({ event, suppressed }, `${what} not written: the store is unavailable`))
      })
      .finally(() => pending.delete(tracked))
    pending.add(tracked)
  }
  return {
    emit(e) {
      try {
        if (e.event !== 'token.issued' || o.auditAccess) track(o.audit.append(e), e.event, 'audit entry')
        if (o.webhookUrls.length > 0 && wantsWebhook(e)) {
          track(o.queue.enqueue(webhookJobs(e, o.webhookUrls, clock()), clock()), e.event, 'webhook')
        }
      } catch {
        o.log.warn({ event: e.event }, 'event not recorded')
      }
    },
    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending])
    },
  }
}

/** A link that was denied at the provider changed nothing: no webhook, only the audit entry. */
function wantsWebhook(e: BrokerEvent): boolean {
  if (!WEBHOOK_EVENTS.has(e.event)) return false
  return e.event !== 'account.linked' || e.outcome === 'created' || e.outcome === 'replaced'
}

/**
 * One delivery per URL. Every body carries the event's `id` (the same for every receiver)
 * and its own `delivery_id` (the x-token-broker-delivery header): inside the signed bytes,
 * so a receiver deduplicates on a value nobody could have changed in transit.
 */
export function webhookJobs(e: BrokerEvent, urls: readonly string[], now: number): WebhookJob[] {
  const event = {
    id: randomUUID(),
    type: e.event,
    created_at: new Date(now).toISOString(),
    data: { account: e.account ?? null, provider: e.provider ?? null, outcome: e.outcome ?? null, detail: e.detail ?? null },
  }
  return urls.map((url) => {
    const id = randomUUID()
    return {
      id,
      url,
      event: e.event,
      body: JSON.stringify({ id: event.id, delivery_id: id, type: event.type, created_at: event.created_at, data: event.data }),
    }
  })
}
