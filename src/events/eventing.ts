import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Storage } from '../store/index.js'
import type { AuditLog } from './audit-log.js'
import { createEventSink, type DrainableSink } from './event-sink.js'
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
  storage: Pick<Storage, 'audit' | 'webhooks'>
  config: Pick<Config, 'auditAccess' | 'webhookUrls' | 'webhookSecret' | 'webhookSecrets'>
  log: Logger
  clock?: () => number
  webhooks?: Partial<WebhookWorkerOptions>
}

/** The audit trail, webhook queue, sink and worker on the app's storage. */
export function createEventing(o: EventingOptions): Eventing {
  const { config, log } = o
  const { audit, webhooks: queue } = o.storage
  const sink = createEventSink({
    audit,
    queue,
    webhookUrls: config.webhookUrls,
    auditAccess: config.auditAccess,
    log,
    clock: o.clock,
  })
  // Each receiver verifies with its own secret when it has one: no receiver can forge deliveries to another.
  const secretFor = (url: string) => config.webhookSecrets[url] ?? config.webhookSecret
  const worker = config.webhookUrls.length > 0 ? new WebhookWorker(queue, secretFor, log, o.webhooks, o.clock) : null
  return { audit, queue, sink, worker }
}
