import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { RedisStore } from '../store/redis-store.js'
import type { Store } from '../store/store.js'
import type { AuditLog } from './audit-log.js'
import { createEventSink, type DrainableSink } from './event-sink.js'
import { MemoryAuditLog } from './memory-audit-log.js'
import { MemoryWebhookQueue } from './memory-webhook-queue.js'
import { RedisAuditLog } from './redis-audit-log.js'
import { RedisWebhookQueue } from './redis-webhook-queue.js'
import type { WebhookQueue } from './webhook-queue.js'
import { WebhookWorker, type WebhookWorkerOptions } from './webhook-worker.js'

export interface Eventing {
  audit: AuditLog
  queue: WebhookQueue
  sink: DrainableSink
  /** null when no WEBHOOK_URLS are configured. */
  worker: WebhookWorker | null
}

export interface EventingOptions {
  store: Store
  config: Pick<Config, 'keyPrefix' | 'auditMaxEntries' | 'auditAccess' | 'webhookUrls' | 'webhookSecret' | 'webhookSecrets'>
  log: Logger
  clock?: () => number
  webhooks?: Partial<WebhookWorkerOptions>
}

/** The audit trail, webhook queue, sink and worker on the app's store (Redis, or memory with the embedded store). */
export function createEventing(o: EventingOptions): Eventing {
  const { store, config, log } = o
  const redis = store instanceof RedisStore ? store.client : null
  const audit = redis
    ? new RedisAuditLog(redis, { prefix: config.keyPrefix, maxEntries: config.auditMaxEntries })
    : new MemoryAuditLog({ maxEntries: config.auditMaxEntries, clock: o.clock })
  const queue = redis ? new RedisWebhookQueue(redis, config.keyPrefix) : new MemoryWebhookQueue()
  const sink = createEventSink({
    audit, queue, webhookUrls: config.webhookUrls, auditAccess: config.auditAccess, log, clock: o.clock,
  })
  // Each receiver verifies with its own secret when it has one: no receiver can forge deliveries to another.
  const secretFor = (url: string) => config.webhookSecrets[url] ?? config.webhookSecret
  const worker = config.webhookUrls.length > 0 ? new WebhookWorker(queue, secretFor, log, o.webhooks, o.clock) : null
  return { audit, queue, sink, worker }
}
