import { InvalidInputError } from '../errors.js'
import { scanPage } from '../paging.js'
import type { BrokerEvent, EventName } from './events.js'

/** One line of the audit trail. Never holds a token: only names, codes and outcomes. */
export interface AuditEntry {
  /** Stream id `ms-seq`: unique, ascending, and the entry's time. */
  id: string
  /** ISO 8601, from the id. */
  time: string
  event: EventName
  account: string | null
  provider: string | null
  sub: string | null
  request_id: string | null
  outcome: string | null
  detail: string | null
}

export interface AuditQuery {
  account?: string
  event?: EventName
  /** Epoch ms: entries at or after this time. Ignored when `cursor` is given. */
  since?: number
  /** Opaque, from a previous page's `next_cursor`: entries strictly after it. */
  cursor?: string
  limit: number
  /**
   * The caller's `accounts` claim as a predicate, or null for a caller that may see
   * everything. A limited caller sees neither other accounts' entries nor entries
   * that name no account (a 401 at /accounts says nothing about its accounts).
   */
  allowed: ((account: string) => boolean) | null
}

export interface AuditPage {
  entries: AuditEntry[]
  next_cursor: string | null
}

/** An append-only, capped trail of events, read in time order. Redis and memory pass one contract. */
export interface AuditLog {
  append(event: BrokerEvent): Promise<void>
  read(q: AuditQuery): Promise<AuditPage>
}

/** How many entries one page may look at when filters drop most of them (then the page is short). */
export const AUDIT_SCAN_BUDGET = 5000

/** Field → longest value kept; events come from verified callers but are still bounded. */
export const AUDIT_FIELDS = {
  account: 128,
  provider: 64,
  sub: 256,
  request_id: 128,
  outcome: 64,
  detail: 256,
} as const
type Field = keyof typeof AUDIT_FIELDS

/** The stored fields of an event (event name first), without empty ones. */
export function auditFields(e: BrokerEvent): [string, string][] {
  const values: Record<Field, string | undefined> = {
    account: e.account,
    provider: e.provider,
    sub: e.sub,
    request_id: e.requestId,
    outcome: e.outcome,
    detail: e.detail,
  }
  const fields: [string, string][] = [['event', e.event]]
  for (const [name, max] of Object.entries(AUDIT_FIELDS) as [Field, number][]) {
    const value = values[name]
    if (value !== undefined && value !== '') fields.push([name, value.slice(0, max)])
  }
  return fields
}

export function auditEntry(id: string, fields: Iterable<[string, string]>): AuditEntry {
  const stored = new Map(fields)
  const text = (name: Field) => stored.get(name) ?? null
  return {
    id,
    time: new Date(idTime(id)).toISOString(),
    event: stored.get('event') as EventName,
    account: text('account'),
    provider: text('provider'),
    sub: text('sub'),
    request_id: text('request_id'),
    outcome: text('outcome'),
    detail: text('detail'),
  }
}

export function matches(entry: AuditEntry, q: AuditQuery): boolean {
  if (q.event !== undefined && entry.event !== q.event) return false
  if (q.account !== undefined && entry.account !== q.account) return false
  if (q.allowed === null) return true
  return entry.account !== null && q.allowed(entry.account)
}

const STREAM_ID = /^(\d{1,16})-(\d{1,19})$/

export const idTime = (id: string): number => Number(id.slice(0, id.indexOf('-')))

/** Orders `ms-seq` ids as Redis does. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-') as [string, string]
  const [bm, bs] = b.split('-') as [string, string]
  return Number(am) - Number(bm) || (BigInt(as) < BigInt(bs) ? -1 : BigInt(as) > BigInt(bs) ? 1 : 0)
}

export const encodeAuditCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url')

export function decodeAuditCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!STREAM_ID.test(id)) throw new InvalidInputError('cursor', 'is not a cursor this service issued')
  return id
}

/** Where a range read starts: at an id, or just after it. */
export interface RangeStart {
  id: string
  exclusive: boolean
}

/** Up to `count` entries from `start` (the beginning when null), ascending. */
export type RangeReader = (start: RangeStart | null, count: number) => Promise<AuditEntry[]>

/**
 * One page of a filtered read (see scanPage): a page that the scan budget cut short may hold
 * fewer than `limit` entries but never skips or repeats one; `next_cursor` is null once the
 * end of the trail is reached.
 */
export async function readPage(range: RangeReader, q: AuditQuery, budget = AUDIT_SCAN_BUDGET): Promise<AuditPage> {
  const from: RangeStart | null =
    q.cursor !== undefined
      ? { id: decodeAuditCursor(q.cursor), exclusive: true }
      : q.since !== undefined
        ? { id: `${Math.max(0, Math.floor(q.since))}-0`, exclusive: false }
        : null
  const page = await scanPage<AuditEntry, RangeStart>(
    {
      read: range,
      after: (entry) => ({ id: entry.id, exclusive: true }),
      keep: (entry) => matches(entry, q),
    },
    from,
    q.limit,
    budget,
  )
  return { entries: page.items, next_cursor: page.end || page.last === null ? null : encodeAuditCursor(page.last.id) }
}
