import { KeyRing, SealError } from '../crypto/key-ring.js'
import type { GrantRecord, ResealProgress, SealedTokens, Store } from '../store/store.js'
import { ACCESS_FIELD, REFRESH_FIELD } from './secrets.js'

/**
 * Key rotation over every stored grant: re-sealing with the current key (the first of
 * ENCRYPTION_KEYS), and counting which key still seals what. Link states are not touched:
 * they expire within minutes. Grants are walked in account order; the cursor is the last
 * account id done, kept in the store, so an interrupted run resumes after it.
 */

export interface ResealCounts {
  /** Accounts looked at. */
  accounts: number
  /** Sealed values rewritten under the current key. */
  resealed: number
  /** Sealed values already under the current key. */
  current: number
  /** Sealed values no key of the ring opens (tampered or an unknown key): left as they are. */
  unreadable: number
  /** Accounts whose grant moved under every attempt (a refresh kept committing): left for a re-run. */
  skipped: number
}

export interface ResealBatch {
  counts: ResealCounts
  /** The last account done; null once every account is done. */
  cursor: string | null
}

export const emptyCounts = (): ResealCounts => ({ accounts: 0, resealed: 0, current: 0, unreadable: 0, skipped: 0 })

/** A fenced write can lose to a refresh committing meanwhile: read again this many times. */
const ATTEMPTS = 3

type Field = { name: typeof ACCESS_FIELD | typeof REFRESH_FIELD; key: keyof SealedTokens }
const FIELDS: Field[] = [
  { name: ACCESS_FIELD, key: 'accessToken' },
  { name: REFRESH_FIELD, key: 'refreshToken' },
]

/** Re-seals the grants of up to `limit` accounts after `after`. */
export async function resealBatch(store: Store, keyRing: KeyRing, after: string | null, limit: number): Promise<ResealBatch> {
  const accounts = await store.listAccounts(after, limit)
  const counts = emptyCounts()
  const grants = await store.getGrants(accounts)
  for (let i = 0; i < accounts.length; i++) {
    counts.accounts++
    await resealAccount(store, keyRing, accounts[i]!, grants[i] ?? null, counts)
  }
  return { counts, cursor: accounts.length < limit ? null : accounts.at(-1)! }
}

async function resealAccount(store: Store, keyRing: KeyRing, account: string, read: GrantRecord | null, counts: ResealCounts) {
  let grant = read
  for (let attempt = 1; grant; attempt++) {
    const plan = planReseal(keyRing, account, grant)
    if (plan.rewrite === 0) return addTo(counts, plan)
    const from = { accessToken: grant.accessToken, refreshToken: grant.refreshToken }
    if (await store.resealGrant(account, grant.version, { from, to: plan.to })) return addTo(counts, plan)
    if (attempt === ATTEMPTS) {
      counts.skipped++
      return
    }
    grant = await store.getGrant(account)
  }
}

interface Plan {
  to: SealedTokens
  rewrite: number
  current: number
  unreadable: number
}

function planReseal(keyRing: KeyRing, account: string, grant: GrantRecord): Plan {
  const plan: Plan = { to: { accessToken: null, refreshToken: null }, rewrite: 0, current: 0, unreadable: 0 }
  for (const { name, key } of FIELDS) {
    const sealed = grant[key]
    if (sealed === null) continue
    if (KeyRing.keyIdOf(sealed) === keyRing.currentKeyId) {
      plan.current++
      continue
    }
    try {
      plan.to[key] = keyRing.seal(account, name, keyRing.open(account, name, sealed))
      plan.rewrite++
    } catch (error) {
      if (!(error instanceof SealError)) throw error
      plan.unreadable++
    }
  }
  return plan
}

function addTo(counts: ResealCounts, plan: Plan): void {
  counts.resealed += plan.rewrite
  counts.current += plan.current
  counts.unreadable += plan.unreadable
}

export function addCounts(total: ResealCounts, more: ResealCounts): ResealCounts {
  for (const key of Object.keys(total) as (keyof ResealCounts)[]) total[key] += more[key]
  return total
}

/** How many sealed values each key id seals, over every grant, walked `batch` accounts at a time. */
export async function countSealedByKey(store: Store, batch = 500): Promise<Map<string, number>> {
  const byKey = new Map<string, number>()
  let after: string | null = null
  for (;;) {
    const accounts = await store.listAccounts(after, batch)
    for (const grant of await store.getGrants(accounts)) {
      for (const sealed of [grant?.accessToken, grant?.refreshToken]) {
        if (!sealed) continue
        const id = KeyRing.keyIdOf(sealed)
        byKey.set(id, (byKey.get(id) ?? 0) + 1)
      }
    }
    if (accounts.length < batch) return byKey
    after = accounts.at(-1)!
  }
}

export interface ResealRun {
  /**
   * Start after this account (null: at the first). Absent: where an unfinished run stopped
   * (its progress is kept in the store), provided it sealed with the same key; else the first.
   */
  from?: string | null
  batch: number
  /** Asked between batches: true stops the walk there (an interrupted run). */
  stop?: () => boolean
  /** Called once before the first batch: the unfinished run resumed, or one set aside because it sealed with another key. */
  onStart?: (start: { resumed: ResealProgress | null; setAside: ResealProgress | null }) => void
  /** Called after every batch with this run's running totals and the cursor. */
  onBatch?: (total: ResealCounts, cursor: string | null) => void
  clock?: () => number
}

/**
 * Re-seals every grant, batch by batch, recording after each batch how far it got, so that
 * an interrupted run is resumed by the next; a walk that reaches the end clears the record.
 * `cursor` is null when it did.
 */
export async function resealAll(store: Store, keyRing: KeyRing, run: ResealRun): Promise<ResealBatch> {
  const clock = run.clock ?? Date.now
  const stored = await store.getResealProgress()
  const resumed = run.from === undefined && stored?.keyId === keyRing.currentKeyId ? stored : null
  run.onStart?.({ resumed, setAside: run.from === undefined && stored && !resumed ? stored : null })
  const startedAt = resumed?.startedAt ?? clock()
  const total = emptyCounts()
  let cursor = run.from !== undefined ? run.from : (resumed?.cursor ?? null)
  for (;;) {
    const batch = await resealBatch(store, keyRing, cursor, run.batch)
    addCounts(total, batch.counts)
    cursor = batch.cursor
    await store.setResealProgress(
      cursor === null
        ? null
        : {
            keyId: keyRing.currentKeyId,
            cursor,
            startedAt,
            updatedAt: clock(),
            accounts: (resumed?.accounts ?? 0) + total.accounts,
            resealed: (resumed?.resealed ?? 0) + total.resealed,
          },
    )
    run.onBatch?.(total, cursor)
    if (cursor === null || run.stop?.()) return { counts: total, cursor }
  }
}
