import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { StoreConfig } from '../config.js'

export type RedisClient = Redis | Cluster

/**
 * Clients that fail fast: no offline queue, one retry, a command timeout. A request made
 * while Redis is away gets 503 STORE_UNAVAILABLE at once instead of hanging; the client
 * keeps reconnecting in the background.
 */
export function createRedisClient(store: Exclude<StoreConfig, { kind: 'memory' }>, commandTimeoutMs: number): RedisClient {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 2000),
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    lazyConnect: true,
  }
  switch (store.kind) {
    case 'standalone':
      return new Redis(store.url, options)
    case 'sentinel':
      // failoverDetector: drop the master connection as soon as a Sentinel announces
      // +switch-master. Without it, after a SENTINEL FAILOVER the client stays on the demoted
      // master (still writable until Sentinel reconfigures it, ~10 s later) and every write
      // acknowledged there is discarded when it resyncs from the new master.
      return new Redis({ ...options, sentinels: store.sentinels, name: store.name, failoverDetector: true })
    case 'cluster':
      return new Cluster(store.nodes, { redisOptions: options, enableOfflineQueue: false, lazyConnect: true })
  }
}
