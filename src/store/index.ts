import type { Config } from '../config.js'
import { keySpace } from './keys.js'
import { MemoryAuditLog } from './memory-audit-log.js'
import { MemoryStore } from './memory-store.js'
import { MemoryWebhookQueue } from './memory-webhook-queue.js'
import { redisRateLimitCounters } from './rate-limit-counters.js'
import { RedisAuditLog } from './redis-audit-log.js'
import { createRedisClient } from './redis-client.js'
import { RedisStore } from './redis-store.js'
import { RedisWebhookQueue } from './redis-webhook-queue.js'
import type { Storage } from './storage.js'

export type { Storage } from './storage.js'
export type { Store, GrantRecord } from './store.js'
export type { RateLimitBackend } from './rate-limit-counters.js'

export type StorageConfig = Pick<Config, 'store' | 'keyPrefix' | 'storeCommandTimeoutMs' | 'storeWaitReplicasMs' | 'auditMaxEntries'>

/** The configured storage, not yet connected (see Storage.connect). */
export function createStorage(config: StorageConfig, clock: () => number = Date.now): Storage {
  if (config.store.kind === 'memory') return memoryStorage({ auditMaxEntries: config.auditMaxEntries, clock })
  const client = createRedisClient(config.store, config.storeCommandTimeoutMs)
  const keys = keySpace(config.keyPrefix)
  const grants = new RedisStore(client, config.keyPrefix, config.storeWaitReplicasMs)
  return {
    grants,
    audit: new RedisAuditLog(client, keys, { maxEntries: config.auditMaxEntries }),
    webhooks: new RedisWebhookQueue(client, keys),
    rateLimit: redisRateLimitCounters(client, keys),
    async connect() {
      try {
        await grants.connect()
        return null
      } catch (error) {
        return error as Error
      }
    },
    ping: () => grants.ping(),
    close: () => grants.close(),
  }
}

export interface MemoryStorageOptions {
  auditMaxEntries?: number
  /** The audit trail's clock (its entries' times). Expiring keys use real time, as Redis does. */
  clock?: () => number
  /** The grant store (tests hand in one they can look into, or one on a clock of their own). */
  grants?: MemoryStore
}

/** Everything in this process: the embedded store of a single instance (and of tests). */
export function memoryStorage(o: MemoryStorageOptions = {}): Storage {
  const grants = o.grants ?? new MemoryStore()
  return {
    grants,
    audit: new MemoryAuditLog({ maxEntries: o.auditMaxEntries ?? 100_000, clock: o.clock ?? Date.now }),
    webhooks: new MemoryWebhookQueue(),
    rateLimit: null,
    connect: async () => null,
    ping: () => grants.ping(),
    close: () => grants.close(),
  }
}
