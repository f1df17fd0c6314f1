import type { RedisClient } from './redis-client.js'
import {
  AUDIT_SCAN_BUDGET,
  auditEntry,
  auditFields,
  readPage,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
} from '../events/audit-log.js'
import type { BrokerEvent } from '../events/events.js'
import type { KeySpace } from './keys.js'
import { storeCall } from './store-call.js'

export interface RedisAuditOptions {
  /** XADD MAXLEN ~ this: Redis trims whole stream nodes, so a little more may stay. */
  maxEntries: number
  scanBudget?: number
}

/**
 * The audit trail as a Redis Stream. Redis assigns the ids (`ms-seq`, its own clock), so
 * entries from every broker instance interleave in one ascending order and `since` maps
 * onto an id range (XRANGE `ms-0` +) without an index.
 */
export class RedisAuditLog implements AuditLog {
  private readonly key: string

  constructor(
    private readonly client: RedisClient,
    keys: KeySpace,
    private readonly options: RedisAuditOptions,
  ) {
    this.key = keys.audit
  }

  async append(event: BrokerEvent): Promise<void> {
    await storeCall(this.client.xadd(this.key, 'MAXLEN', '~', this.options.maxEntries, '*', ...auditFields(event).flat()))
  }

  read(q: AuditQuery): Promise<AuditPage> {
    return readPage(
      async (start, count) => {
        const from = start === null ? '-' : start.exclusive ? `(${start.id}` : start.id
        const rows = await storeCall(this.client.xrange(this.key, from, '+', 'COUNT', count))
        return rows.map(([id, flat]) => auditEntry(id, pairs(flat)))
      },
      q,
      this.options.scanBudget ?? AUDIT_SCAN_BUDGET,
    )
  }
}

function* pairs(flat: string[]): Generator<[string, string]> {
  for (let i = 0; i + 1 < flat.length; i += 2) yield [flat[i]!, flat[i + 1]!]
}
