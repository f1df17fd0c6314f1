import type { Config } from '../config.js'
import { MemoryStore } from './memory-store.js'
import { createRedisClient } from './redis-client.js'
import { RedisStore } from './redis-store.js'
import type { Store } from './store.js'

export type { Store } from './store.js'

/** The configured store, not yet connected (see connectStore). */
export function createStore(config: Pick<Config, 'store' | 'keyPrefix' | 'storeCommandTimeoutMs' | 'storeWaitReplicasMs'>): Store {
  if (config.store.kind === 'memory') return new MemoryStore()
  return new RedisStore(createRedisClient(config.store, config.storeCommandTimeoutMs), config.keyPrefix, config.storeWaitReplicasMs)
}

/** Connects a Redis store; a store that cannot connect yet keeps trying in the background. */
export async function connectStore(store: Store): Promise<Error | null> {
  if (!(store instanceof RedisStore)) return null
  try {
    await store.connect()
    return null
  } catch (error) {
    return error as Error
  }
}
