import {
  AUDIT_SCAN_BUDGET,
  auditEntry,
  auditFields,
  compareIds,
  readPage,
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  type RangeStart,
} from '../events/audit-log.js'
import type { BrokerEvent } from '../events/events.js'

export interface MemoryAuditOptions {
  /** Keep at least this many entries; trimmed in chunks, as Redis MAXLEN ~ does. */
  maxEntries: number
  clock?: () => number
  scanBudget?: number
}

/** The audit trail of the embedded store: one process, nothing survives a restart. */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditEntry[] = []
  private lastMs = 0
  private lastSeq = -1
  private readonly clock: () => number
  private readonly slack: number

  constructor(private readonly options: MemoryAuditOptions) {
    this.clock = options.clock ?? Date.now
    this.slack = Math.max(1, Math.floor(options.maxEntries / 10))
  }

  async append(event: BrokerEvent): Promise<void> {
    // Ids as Redis makes them: ms-seq, never going backwards even if the clock does.
    const now = Math.max(this.clock(), this.lastMs)
    this.lastSeq = now === this.lastMs ? this.lastSeq + 1 : 0
    this.lastMs = now
    this.entries.push(auditEntry(`${now}-${this.lastSeq}`, auditFields(event)))
    if (this.entries.length >= this.options.maxEntries + this.slack) {
      this.entries.splice(0, this.entries.length - this.options.maxEntries)
    }
  }

  read(q: AuditQuery): Promise<AuditPage> {
    return readPage(
      async (start, count) => {
        const from = start === null ? 0 : this.firstIndex(start)
        return this.entries.slice(from, from + count).map((e) => ({ ...e }))
      },
      q,
      this.options.scanBudget ?? AUDIT_SCAN_BUDGET,
    )
  }

  /** Binary search: the first entry at (or after, when exclusive) the start id. */
  private firstIndex(start: RangeStart): number {
    let lo = 0
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const c = compareIds(this.entries[mid]!.id, start.id)
      if (c < 0 || (c === 0 && start.exclusive)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
