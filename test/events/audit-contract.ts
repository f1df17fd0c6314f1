import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { idTime, type AuditEntry, type AuditLog, type AuditQuery } from '../../src/events/audit-log.js'
import type { BrokerEvent } from '../../src/events/events.js'
import { realTimePassed } from '../helpers/wait.js'

export interface AuditFixture {
  log: AuditLog
  cleanup(): Promise<void>
}
export type AuditFactory = (o: { maxEntries: number; scanBudget?: number }) => Promise<AuditFixture>

const ALL: Omit<AuditQuery, 'limit'> = { allowed: null }

async function readAll(log: AuditLog, q: Omit<AuditQuery, 'limit' | 'cursor'> = ALL, limit = 500) {
  const entries: AuditEntry[] = []
  const pages: number[] = []
  let cursor: string | undefined
  for (let guard = 0; guard < 1000; guard++) {
    const page = await log.read({ ...q, limit, cursor })
    entries.push(...page.entries)
    pages.push(page.entries.length)
    if (page.next_cursor === null) return { entries, pages }
    cursor = page.next_cursor
  }
  throw new Error('cursor never ended')
}

const ev = (n: number, over: Partial<BrokerEvent> = {}): BrokerEvent => ({
  event: 'account.refreshed',
  account: `acct-${n % 3}`,
  provider: 'acme',
  outcome: 'success',
  requestId: `req-${n}`,
  ...over,
})

/** What every audit log must do; run for Redis and memory. */
export function auditContract(name: string, make: AuditFactory): void {
  describe(`audit log contract: ${name}`, () => {
    const fixture = async (t: { after(fn: () => Promise<void>): void }, o: { maxEntries?: number; scanBudget?: number } = {}) => {
      const f = await make({ maxEntries: o.maxEntries ?? 100_000, scanBudget: o.scanBudget })
      t.after(() => f.cleanup())
      return f.log
    }

    test('appends entries that read back in order, with every field and nulls for the missing', async (t) => {
      const log = await fixture(t)
      const before = Date.now()
      await log.append({ event: 'account.imported', account: 'crm', provider: 'acme', sub: 'svc-a', requestId: 'r1', outcome: 'created' })
      await log.append({ event: 'caller.denied', outcome: '401', detail: '/accounts' })
      await log.append({
        event: 'account.refresh_failed',
        account: 'crm',
        provider: 'acme',
        outcome: 'transient',
        detail: 'status 503',
        sub: '',
      })
      const page = await log.read({ limit: 10, allowed: null })
      assert.equal(page.next_cursor, null)
      const stripped = page.entries.map(({ id: _id, time: _time, ...rest }) => rest)
      assert.deepEqual(stripped, [
        { event: 'account.imported', account: 'crm', provider: 'acme', sub: 'svc-a', request_id: 'r1', outcome: 'created', detail: null },
        { event: 'caller.denied', account: null, provider: null, sub: null, request_id: null, outcome: '401', detail: '/accounts' },
        {
          event: 'account.refresh_failed',
          account: 'crm',
          provider: 'acme',
          sub: null,
          request_id: null,
          outcome: 'transient',
          detail: 'status 503',
        },
      ])
      const ids = page.entries.map((e) => e.id)
      assert.equal(new Set(ids).size, 3)
      for (const e of page.entries) {
        assert.match(e.id, /^\d+-\d+$/)
        assert.equal(e.time, new Date(idTime(e.id)).toISOString())
        assert.ok(idTime(e.id) >= before - 5_000 && idTime(e.id) <= Date.now() + 5_000, 'time is about now')
      }
    })

    test('long values are cut to their bound', async (t) => {
      const log = await fixture(t)
      await log.append({ event: 'caller.denied', account: 'a'.repeat(300), detail: 'd'.repeat(1000), sub: 's'.repeat(1000) })
      const [entry] = (await log.read({ limit: 1, allowed: null })).entries
      assert.equal(entry!.account!.length, 128)
      assert.equal(entry!.detail!.length, 256)
      assert.equal(entry!.sub!.length, 256)
    })

    test('filters by event and account; a limited caller sees only its accounts and no account-less entries', async (t) => {
      const log = await fixture(t)
      for (let i = 0; i < 12; i++) await log.append(ev(i, i % 4 === 0 ? { event: 'token.issued' } : {}))
      await log.append({ event: 'caller.denied', outcome: '403' })
      const all = (await readAll(log)).entries
      assert.equal(all.length, 13)
      const byEvent = (await readAll(log, { event: 'token.issued', allowed: null })).entries
      assert.deepEqual(
        byEvent,
        all.filter((e) => e.event === 'token.issued'),
      )
      assert.equal(byEvent.length, 3)
      const byAccount = (await readAll(log, { account: 'acct-1', allowed: null })).entries
      assert.deepEqual(
        byAccount,
        all.filter((e) => e.account === 'acct-1'),
      )
      const both = (await readAll(log, { account: 'acct-0', event: 'token.issued', allowed: null })).entries
      assert.deepEqual(
        both.map((e) => e.request_id),
        ['req-0'],
      )
      const limited = (await readAll(log, { allowed: (a) => a === 'acct-2' })).entries
      assert.deepEqual(
        limited,
        all.filter((e) => e.account === 'acct-2'),
      )
      assert.equal((await readAll(log, { allowed: () => false })).entries.length, 0)
      const unlimited = (await readAll(log, { allowed: null })).entries
      assert.ok(
        unlimited.some((e) => e.account === null),
        'an unlimited caller sees account-less entries',
      )
    })

    test('since starts at the first entry at or after that time', async (t) => {
      const log = await fixture(t)
      for (let i = 0; i < 5; i++) await log.append(ev(i))
      await realTimePassed(Date.now(), 1) // ids carry the millisecond: the second five get a later one
      for (let i = 5; i < 10; i++) await log.append(ev(i))
      const all = (await readAll(log)).entries
      assert.ok(idTime(all[5]!.id) > idTime(all[4]!.id), 'the pivot starts the second five')
      for (const pivot of [all[0]!, all[5]!, all[9]!]) {
        const since = idTime(pivot.id)
        const page = (await readAll(log, { since, allowed: null })).entries
        assert.deepEqual(
          page,
          all.filter((e) => idTime(e.id) >= since),
        )
      }
      assert.deepEqual((await log.read({ limit: 10, since: idTime(all[9]!.id) + 1, allowed: null })).entries, [])
      assert.deepEqual((await readAll(log, { since: 0, allowed: null })).entries, all)
    })

    test('cursor pagination returns every entry once, in order, and ends with a null cursor', async (t) => {
      const log = await fixture(t)
      for (let i = 0; i < 25; i++) await log.append(ev(i))
      const all = (await log.read({ limit: 500, allowed: null })).entries
      assert.equal(all.length, 25)
      const paged = await readAll(log, ALL, 10)
      assert.deepEqual(paged.entries, all)
      assert.deepEqual(paged.pages, [10, 10, 5])
      const exact = await readAll(log, ALL, 5)
      assert.deepEqual(exact.entries, all)
      assert.equal(
        exact.pages.reduce((a, b) => a + b, 0),
        25,
      )
      // A cursor taken with one filter keeps working after more entries arrive.
      const first = await log.read({ limit: 20, allowed: null })
      await log.append(ev(99))
      const rest = await log.read({ limit: 500, cursor: first.next_cursor!, allowed: null })
      assert.deepEqual(
        rest.entries.map((e) => e.request_id),
        ['req-20', 'req-21', 'req-22', 'req-23', 'req-24', 'req-99'],
      )
    })

    test('a scan budget cuts a sparse page short but the cursor neither skips nor repeats', async (t) => {
      const log = await fixture(t, { scanBudget: 7 })
      for (let i = 0; i < 30; i++) await log.append(ev(i, { account: i % 5 === 0 ? 'rare' : 'common' }))
      const first = await log.read({ limit: 10, account: 'rare', allowed: null })
      assert.deepEqual(
        first.entries.map((e) => e.request_id),
        ['req-0', 'req-5'],
      )
      assert.notEqual(first.next_cursor, null, 'more may follow')
      const { entries } = await readAll(log, { account: 'rare', allowed: null }, 10)
      assert.deepEqual(
        entries.map((e) => e.request_id),
        ['req-0', 'req-5', 'req-10', 'req-15', 'req-20', 'req-25'],
      )
    })

    test('an unknown cursor is a validation error', async (t) => {
      const log = await fixture(t)
      await assert.rejects(log.read({ limit: 1, cursor: 'bm90LWEtY3Vyc29y', allowed: null }), { code: 'VALIDATION_ERROR' })
    })

    test('the trail is capped: the oldest entries go, at least maxEntries stay', async (t) => {
      const log = await fixture(t, { maxEntries: 1000 })
      await Promise.all(Array.from({ length: 1300 }, (_, i) => log.append(ev(i))))
      const { entries } = await readAll(log)
      assert.ok(entries.length >= 1000 && entries.length < 1300, `kept ${entries.length}`)
      assert.equal(entries.at(-1)!.request_id, 'req-1299')
      assert.notEqual(entries[0]!.request_id, 'req-0')
    })
  })
}
