import type { Logger } from 'pino'
import type { KeyRing } from '../crypto/key-ring.js'
import type { EventSink } from '../events/events.js'
import type { AppMetrics } from '../metrics.js'
import type { EndpointResolver } from '../providers/endpoints.js'
import type { ProviderConfig } from '../providers/providers-file.js'
import type { Store } from '../store/store.js'
import type { AccessCache } from './access-cache.js'

/** What the domain needs; buildApp wires it, tests hand in their own store or clock. */
export interface BrokerDeps {
  store: Store
  keyRing: KeyRing
  providers: ReadonlyMap<string, ProviderConfig>
  endpoints: EndpointResolver
  clock: () => number
  log: Logger
  metrics: AppMetrics
  events: EventSink
  settings: {
    refreshSkewSeconds: number
    refreshLockTtlMs: number
    providerTimeoutMs: number
    /** Concurrent refresh calls per token endpoint from this process. */
    providerConcurrency: number
    /** Ceiling of the shared failure backoff. */
    backoffMaxMs: number
    /** `${PUBLIC_URL}/connect/callback` */
    redirectUri: string
    returnToAllowlist: readonly string[]
    /** The near cache of opened grants (ttlMs 0 = off). */
    accessCache?: { ttlMs: number; maxEntries: number }
  }
  /** Set by createBroker. */
  accessCache?: AccessCache
}
