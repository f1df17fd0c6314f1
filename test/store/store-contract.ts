import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { GrantRecord, GrantWrite, RefreshCommit, ServingGrant, Store } from '../../src/store/store.js'
import { realTimePassed, recordChanges, tick, waitFor } from '../helpers/wait.js'

/** A fresh, empty store for one test. */
export interface StoreHarness {
  store: Store
  cleanup(): Promise<void>
  /** Moves the store's clock forward (TTLs of locks and link states); absent: real time passes. */
  clock?: { advance(ms: number): void }
}

export const T0 = 1_700_000_000_000
const HOUR = 3_600_000

export function grantWrite(over: Partial<GrantWrite> = {}): GrantWrite {
  return {
    provider: 'acme',
    grantId: 'gid-1',
    scope: 'openid offline_access',
    tokenType: 'Bearer',
    expiresAt: T0 + HOUR,
    accessToken: 'sealed-at-1',
    refreshToken: 'sealed-rt-1',
    meta: '{"instance_url":"https://acme.test"}',
    fromProvider: true,
    keepRefreshToken: false,
    ...over,
  }
}

export function refreshCommit(over: Partial<RefreshCommit> = {}): RefreshCommit {
  return {
    accessToken: 'sealed-at-2',
    refreshToken: 'sealed-rt-2',
    expiresAt: T0 + 2 * HOUR,
    tokenType: 'Bearer',
    scope: 'openid',
    meta: '{"instance_url":"https://other.acme.test"}',
    ...over,
  }
}

const failure = (code: string, retryAt = T0 + 60_000, failures = 1) => ({ lastError: lastError(code), retryAt, failures })

const lastError = (code: string) => JSON.stringify({ code, message: `${code} happened`, at: new Date(T0).toISOString() })

async function mustGet(store: Store, account: string): Promise<GrantRecord> {
  const grant = await store.getGrant(account)
  assert.ok(grant, `grant ${account} exists`)
  return grant
}

/** Byte order, as ZRANGEBYLEX sorts. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

/**
 * The behaviour every Store implementation must have. The broker's guarantees (one refresh,
 * reuse detection, nothing lost) rest on these semantics, so both stores are held to them.
 */
export function storeContract(name: string, makeStore: () => Promise<StoreHarness>): void {
  /** Runs `body` against a fresh store and always cleans up. */
  const withStore = (body: (h: StoreHarness) => Promise<void>) => async () => {
    const harness = await makeStore()
    try {
      await body(harness)
    } finally {
      await harness.cleanup()
    }
  }

  /** Lets `ms` pass on the store's clock: the fake one when there is one, else real time. */
  const letTimePass = async (h: StoreHarness, since: number, ms: number) => {
    if (h.clock) h.clock.advance(ms)
    else await realTimePassed(since, ms)
  }

  describe(`${name}: store contract`, () => {
    describe('writeGrant', () => {
      test(
        'creates a grant at version 1 with every field stored',
        withStore(async ({ store }) => {
          assert.equal(await store.getGrant('crm-prod'), null)
          assert.equal(await store.writeGrant('crm-prod', grantWrite(), T0), 'created')
          assert.deepEqual(await store.getGrant('crm-prod'), {
            provider: 'acme',
            status: 'active',
            version: 1,
            grantId: 'gid-1',
            scope: 'openid offline_access',
            tokenType: 'Bearer',
            createdAt: T0,
            updatedAt: T0,
            refreshedAt: null,
            expiresAt: T0 + HOUR,
            issuedAt: T0,
            fromProvider: true,
            retryAt: null,
            failures: 0,
            accessToken: 'sealed-at-1',
            refreshToken: 'sealed-rt-1',
            lastError: null,
            meta: '{"instance_url":"https://acme.test"}',
          } satisfies GrantRecord)
        }),
      )

      test(
        'stores absent optional fields as null',
        withStore(async ({ store }) => {
          const write = grantWrite({ scope: null, expiresAt: null, accessToken: null, meta: null, tokenType: 'mac' })
          assert.equal(await store.writeGrant('bare', write, T0), 'created')
          const grant = await mustGet(store, 'bare')
          assert.equal(grant.scope, null)
          assert.equal(grant.expiresAt, null)
          assert.equal(grant.accessToken, null)
          assert.equal(grant.meta, null)
          assert.equal(grant.tokenType, 'mac')
          assert.equal(grant.refreshToken, 'sealed-rt-1')
        }),
      )

      test(
        'replacing bumps the version, keeps created_at and takes every new field',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const replacement = grantWrite({
            grantId: 'gid-2',
            scope: 'email',
            expiresAt: null,
            accessToken: 'sealed-at-9',
            refreshToken: 'sealed-rt-9',
            meta: null,
          })
          assert.equal(await store.writeGrant('acct', replacement, T0 + 5000), 'replaced')
          assert.deepEqual(await store.getGrant('acct'), {
            provider: 'acme',
            status: 'active',
            version: 2,
            grantId: 'gid-2',
            scope: 'email',
            tokenType: 'Bearer',
            createdAt: T0,
            updatedAt: T0 + 5000,
            refreshedAt: null,
            expiresAt: null,
            issuedAt: T0 + 5000,
            fromProvider: true,
            retryAt: null,
            failures: 0,
            accessToken: 'sealed-at-9',
            refreshToken: 'sealed-rt-9',
            lastError: null,
            meta: null,
          } satisfies GrantRecord)
        }),
      )

      test(
        'replacing a reauth_required grant makes it active again and clears last_error',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          assert.equal(await store.markReauthRequired('acct', 1, lastError('REFRESH_TOKEN_INVALID'), T0 + 1), true)
          assert.equal((await mustGet(store, 'acct')).status, 'reauth_required')

          assert.equal(await store.writeGrant('acct', grantWrite({ accessToken: 'sealed-at-3' }), T0 + 2), 'replaced')
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.status, 'active')
          assert.equal(grant.lastError, null)
          assert.equal(grant.version, 3)
          assert.equal(grant.accessToken, 'sealed-at-3')
          assert.equal(grant.refreshToken, 'sealed-rt-1')
        }),
      )

      test(
        'replacing clears a recorded transient error',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.recordFailure('acct', 1, failure('PROVIDER_UNAVAILABLE'))
          await store.writeGrant('acct', grantWrite(), T0 + 2)
          assert.equal((await mustGet(store, 'acct')).lastError, null)
        }),
      )

      test(
        'a different provider is a conflict and changes nothing',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const before = await mustGet(store, 'acct')
          const other = grantWrite({ provider: 'github', accessToken: 'sealed-gh', refreshToken: 'sealed-gh-rt' })
          assert.equal(await store.writeGrant('acct', other, T0 + 1), 'conflict')
          assert.deepEqual(await store.getGrant('acct'), before)
        }),
      )

      test(
        'keepRefreshToken keeps the stored refresh token only when the write brings none',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite({ refreshToken: 'sealed-rt-A' }), T0)

          await store.writeGrant('acct', grantWrite({ refreshToken: null, keepRefreshToken: true, accessToken: 'at-2' }), T0 + 1)
          let grant = await mustGet(store, 'acct')
          assert.equal(grant.refreshToken, 'sealed-rt-A', 'kept: the write brought none')
          assert.equal(grant.accessToken, 'at-2')

          await store.writeGrant('acct', grantWrite({ refreshToken: 'sealed-rt-B', keepRefreshToken: true }), T0 + 2)
          grant = await mustGet(store, 'acct')
          assert.equal(grant.refreshToken, 'sealed-rt-B', 'replaced: the write brought one')

          await store.writeGrant('acct', grantWrite({ refreshToken: null, keepRefreshToken: false }), T0 + 3)
          grant = await mustGet(store, 'acct')
          assert.equal(grant.refreshToken, null, 'dropped: not asked to keep')
          assert.equal(grant.version, 4)
        }),
      )

      test(
        'keepRefreshToken on a new grant stores no refresh token',
        withStore(async ({ store }) => {
          await store.writeGrant('fresh', grantWrite({ refreshToken: null, keepRefreshToken: true }), T0)
          assert.equal((await mustGet(store, 'fresh')).refreshToken, null)
        }),
      )

      test(
        'keepRefreshToken after a wipe has nothing to keep',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.markReauthRequired('acct', null, lastError('TOKEN_REUSE_DETECTED'), T0 + 1)
          await store.writeGrant('acct', grantWrite({ refreshToken: null, keepRefreshToken: true }), T0 + 2)
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.refreshToken, null)
          assert.equal(grant.status, 'active')
        }),
      )
    })

    describe('getServingGrant (the hot path read)', () => {
      const serving = (g: GrantRecord): ServingGrant => ({
        provider: g.provider,
        status: g.status,
        version: g.version,
        scope: g.scope,
        tokenType: g.tokenType,
        expiresAt: g.expiresAt,
        issuedAt: g.issuedAt,
        fromProvider: g.fromProvider,
        retryAt: g.retryAt,
        accessToken: g.accessToken,
      })

      test(
        'is null for an account without a grant',
        withStore(async ({ store }) => {
          assert.equal(await store.getServingGrant('nobody'), null)
        }),
      )

      test(
        'carries the serving fields as getGrant reads them, through writes, failures and commits',
        withStore(async ({ store }) => {
          const same = async (account: string) => {
            const full = await mustGet(store, account)
            const read = await store.getServingGrant(account)
            assert.ok(read)
            // Compared on the serving fields only: the memory store may hand back the whole record.
            assert.deepEqual(serving(read as GrantRecord), serving(full))
          }
          await store.writeGrant('acct', grantWrite(), T0)
          await same('acct')
          await store.recordFailure('acct', 1, failure('PROVIDER_UNAVAILABLE'))
          await same('acct')
          assert.equal(await store.commitRefresh('acct', 1, refreshCommit(), T0 + 10), true)
          await same('acct')
          await store.writeGrant(
            'bare',
            grantWrite({ scope: null, expiresAt: null, accessToken: null, tokenType: 'mac', fromProvider: false }),
            T0,
          )
          await same('bare')
          await store.markReauthRequired('bare', null, lastError('INVALID_GRANT'), T0 + 1)
          await same('bare')
        }),
      )
    })

    describe('commitRefresh (compare-and-set on version)', () => {
      test(
        'at the expected version it writes, bumps the version and clears last_error',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.recordFailure('acct', 1, failure('PROVIDER_UNAVAILABLE'))
          assert.equal(await store.commitRefresh('acct', 1, refreshCommit(), T0 + 10), true)
          assert.deepEqual(await store.getGrant('acct'), {
            provider: 'acme',
            status: 'active',
            version: 2,
            grantId: 'gid-1',
            scope: 'openid',
            tokenType: 'Bearer',
            createdAt: T0,
            updatedAt: T0 + 10,
            refreshedAt: T0 + 10,
            expiresAt: T0 + 2 * HOUR,
            issuedAt: T0 + 10,
            fromProvider: true,
            retryAt: null,
            failures: 0,
            accessToken: 'sealed-at-2',
            refreshToken: 'sealed-rt-2',
            lastError: null,
            meta: '{"instance_url":"https://other.acme.test"}',
          } satisfies GrantRecord)
        }),
      )

      test(
        'a null refresh token keeps the stored one; null scope and meta keep theirs',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const commit = refreshCommit({ refreshToken: null, scope: null, meta: null, expiresAt: null })
          assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 10), true)
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.refreshToken, 'sealed-rt-1')
          assert.equal(grant.accessToken, 'sealed-at-2')
          assert.equal(grant.scope, 'openid offline_access')
          assert.equal(grant.meta, '{"instance_url":"https://acme.test"}')
          assert.equal(grant.expiresAt, null, 'an access token without a lifetime clears expires_at')
          assert.equal(grant.version, 2)
        }),
      )

      test(
        'successive commits each need the version the previous one produced',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          assert.equal(await store.commitRefresh('acct', 1, refreshCommit({ accessToken: 'at-a' }), T0 + 1), true)
          assert.equal(await store.commitRefresh('acct', 1, refreshCommit({ accessToken: 'at-stale' }), T0 + 2), false)
          assert.equal(await store.commitRefresh('acct', 2, refreshCommit({ accessToken: 'at-b' }), T0 + 3), true)
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.accessToken, 'at-b')
          assert.equal(grant.version, 3)
        }),
      )

      test(
        'at a wrong version it returns false and changes nothing',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.writeGrant('acct', grantWrite({ accessToken: 'at-v2', refreshToken: 'rt-v2' }), T0 + 1)
          const before = await mustGet(store, 'acct')
          for (const stale of [0, 1, 3, 99]) {
            assert.equal(await store.commitRefresh('acct', stale, refreshCommit(), T0 + 2), false, `version ${stale}`)
          }
          assert.deepEqual(await store.getGrant('acct'), before)
        }),
      )

      test(
        'on a reauth_required grant it returns false, even at the current version',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.markReauthRequired('acct', 1, lastError('REFRESH_TOKEN_INVALID'), T0 + 1)
          const before = await mustGet(store, 'acct')
          assert.equal(before.version, 2)
          assert.equal(await store.commitRefresh('acct', 2, refreshCommit(), T0 + 2), false)
          assert.deepEqual(await store.getGrant('acct'), before)
        }),
      )

      test(
        'on a missing grant it returns false and creates nothing',
        withStore(async ({ store }) => {
          assert.equal(await store.commitRefresh('ghost', 0, refreshCommit(), T0), false)
          assert.equal(await store.commitRefresh('ghost', 1, refreshCommit(), T0), false)
          assert.equal(await store.getGrant('ghost'), null)
          assert.deepEqual(await store.listAccounts(null, 10), [])
        }),
      )

      test(
        'retrying a commit that was already applied reports success and changes nothing',
        withStore(async ({ store }) => {
          // A commit whose reply was lost (timeout, dropped connection) may have been applied;
          // the broker retries it. The retry must not look like a moved version (reuse).
          await store.writeGrant('acct', grantWrite(), T0)
          const commit = refreshCommit({ accessToken: 'sealed-at-unique-1' })
          const changes = recordChanges(store)
          try {
            assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 1), true)
            // The commit's own event first: it may arrive after the call returns (on Cluster it
            // travels between nodes), and must not be taken for a retry's.
            await changes.until('acct', 2)
            const applied = await mustGet(store, 'acct')
            assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 2), true)
            assert.deepEqual(await store.getGrant('acct'), applied)
            await store.recordFailure('acct', 2, failure('PROVIDER_UNAVAILABLE'))
            assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 4), true, 'a recorded error does not move the grant')
            // ...but once anything replaced that token, the stale commit is refused again.
            await store.commitRefresh('acct', 2, refreshCommit({ accessToken: 'sealed-at-unique-2' }), T0 + 5)
            assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 6), false)
            assert.equal((await mustGet(store, 'acct')).accessToken, 'sealed-at-unique-2')
            await changes.until('acct', 3)
            assert.deepEqual(
              changes.of('acct').filter((v) => v > 1),
              [2, 2, 3],
              'the retries announced nothing (the recorded failure did, at its version)',
            )
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'a retried commit is refused once the grant was wiped or replaced',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const commit = refreshCommit({ accessToken: 'sealed-at-unique-1' })
          assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 1), true)
          await store.markReauthRequired('acct', 2, lastError('TOKEN_REUSE_DETECTED'), T0 + 2)
          assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 3), false)
          await store.writeGrant('acct', grantWrite({ accessToken: 'sealed-at-unique-1' }), T0 + 4)
          assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 5), false, 'a new write is not our commit, whatever its token')
          assert.equal((await mustGet(store, 'acct')).version, 4)
        }),
      )

      test(
        '20 concurrent commits from one version: exactly one wins',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              store.commitRefresh('acct', 1, refreshCommit({ accessToken: `at-${i}`, refreshToken: `rt-${i}` }), T0 + i),
            ),
          )
          assert.equal(results.filter(Boolean).length, 1, `results: ${results.join(',')}`)
          const winner = results.indexOf(true)
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.version, 2)
          assert.equal(grant.accessToken, `at-${winner}`)
          assert.equal(grant.refreshToken, `rt-${winner}`, 'the access and refresh token come from the same commit')
        }),
      )
    })

    describe('markReauthRequired', () => {
      test(
        'at the expected version it wipes the tokens and records why',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const why = lastError('REFRESH_TOKEN_INVALID')
          assert.equal(await store.markReauthRequired('acct', 1, why, T0 + 7), true)
          assert.deepEqual(await store.getGrant('acct'), {
            provider: 'acme',
            status: 'reauth_required',
            version: 2,
            grantId: 'gid-1',
            scope: 'openid offline_access',
            tokenType: 'Bearer',
            createdAt: T0,
            updatedAt: T0 + 7,
            refreshedAt: null,
            expiresAt: null,
            issuedAt: T0,
            fromProvider: true,
            retryAt: null,
            failures: 0,
            accessToken: null,
            refreshToken: null,
            lastError: why,
            meta: '{"instance_url":"https://acme.test"}',
          } satisfies GrantRecord)
          assert.deepEqual(await store.listAccounts(null, 10), ['acct'], 'a dead grant is still listed')
        }),
      )

      test(
        'at a wrong version it returns false and changes nothing',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.commitRefresh('acct', 1, refreshCommit(), T0 + 1)
          const before = await mustGet(store, 'acct')
          assert.equal(await store.markReauthRequired('acct', 1, lastError('REFRESH_TOKEN_INVALID'), T0 + 2), false)
          assert.deepEqual(await store.getGrant('acct'), before)
        }),
      )

      test(
        'without an expected version it marks whatever the version',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.commitRefresh('acct', 1, refreshCommit(), T0 + 1)
          const why = lastError('TOKEN_REUSE_DETECTED')
          assert.equal(await store.markReauthRequired('acct', null, why, T0 + 2), true)
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.status, 'reauth_required')
          assert.equal(grant.accessToken, null)
          assert.equal(grant.refreshToken, null)
          assert.equal(grant.expiresAt, null)
          assert.equal(grant.lastError, why)
          assert.equal(grant.version, 3)
        }),
      )

      test(
        'on a missing grant it returns false and creates nothing',
        withStore(async ({ store }) => {
          assert.equal(await store.markReauthRequired('ghost', null, lastError('X'), T0), false)
          assert.equal(await store.markReauthRequired('ghost', 1, lastError('X'), T0), false)
          assert.equal(await store.getGrant('ghost'), null)
        }),
      )
    })

    describe('recordFailure (the shared backoff)', () => {
      test(
        'records why and until when, without touching tokens, status or version',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const before = await mustGet(store, 'acct')
          const why = lastError('PROVIDER_UNAVAILABLE')
          assert.equal(await store.recordFailure('acct', 1, { lastError: why, retryAt: T0 + 4000, failures: 3 }), true)
          const after = await mustGet(store, 'acct')
          assert.deepEqual(after, { ...before, lastError: why, retryAt: T0 + 4000, failures: 3 })
          assert.equal(after.version, 1, 'a transient error must not move the version an in-flight refresh fences on')
          assert.equal(await store.commitRefresh('acct', 1, refreshCommit(), T0 + 2), true)
          const committed = await mustGet(store, 'acct')
          assert.deepEqual([committed.retryAt, committed.failures, committed.lastError], [null, 0, null], 'a success clears the backoff')
        }),
      )

      test(
        'is announced to every listener, at the unchanged version',
        withStore(async ({ store }) => {
          const changes = recordChanges(store)
          try {
            await store.writeGrant('acct', grantWrite(), T0)
            await changes.until('acct', 1)
            await store.recordFailure('acct', 1, failure('PROVIDER_UNAVAILABLE'))
            await waitFor('the failure to be announced', () => (changes.of('acct').filter((v) => v === 1).length >= 2 ? true : undefined))
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'at a moved version, or on a dead grant, it records nothing',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.commitRefresh('acct', 1, refreshCommit(), T0 + 1)
          const before = await mustGet(store, 'acct')
          assert.equal(await store.recordFailure('acct', 1, failure('PROVIDER_UNAVAILABLE')), false)
          assert.deepEqual(await store.getGrant('acct'), before)
          await store.markReauthRequired('acct', null, lastError('REFRESH_TOKEN_INVALID'), T0 + 2)
          const dead = await mustGet(store, 'acct')
          assert.equal(await store.recordFailure('acct', dead.version, failure('PROVIDER_UNAVAILABLE')), false)
          assert.deepEqual(await store.getGrant('acct'), dead)
        }),
      )

      test(
        'a relink or import clears the backoff',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.recordFailure('acct', 1, failure('PROVIDER_UNAVAILABLE', T0 + 9000, 4))
          await store.writeGrant('acct', grantWrite({ fromProvider: false }), T0 + 2)
          const grant = await mustGet(store, 'acct')
          assert.deepEqual([grant.retryAt, grant.failures, grant.fromProvider, grant.issuedAt], [null, 0, false, T0 + 2])
        }),
      )

      test(
        'never creates a grant',
        withStore(async ({ store }) => {
          assert.equal(await store.recordFailure('ghost', 0, failure('PROVIDER_UNAVAILABLE')), false)
          assert.equal(await store.getGrant('ghost'), null)
          assert.deepEqual(await store.listAccounts(null, 10), [])
        }),
      )
    })

    describe('resealGrant (key rotation)', () => {
      const sealed = (accessToken: string | null, refreshToken: string | null) => ({ accessToken, refreshToken })

      test(
        'rewrites both sealed tokens without moving the version or announcing a change',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          const before = await mustGet(store, 'acct')
          const changes = recordChanges(store)
          try {
            const done = await store.resealGrant('acct', 1, { from: sealed('sealed-at-1', 'sealed-rt-1'), to: sealed('k2-at', 'k2-rt') })
            assert.equal(done, true)
            assert.deepEqual(await store.getGrant('acct'), { ...before, accessToken: 'k2-at', refreshToken: 'k2-rt' })
            // A commit made after the reseal, from the version read before it, still applies.
            await store.writeGrant('other', grantWrite(), T0)
            await changes.until('other', 1)
            assert.deepEqual(changes.of('acct'), [])
            assert.equal(await store.commitRefresh('acct', 1, refreshCommit(), T0 + 1), true)
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'null leaves a token as it is; an absent token is matched as absent',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite({ accessToken: null }), T0)
          assert.equal(await store.resealGrant('acct', 1, { from: sealed(null, 'sealed-rt-1'), to: sealed(null, 'k2-rt') }), true)
          const grant = await mustGet(store, 'acct')
          assert.equal(grant.accessToken, null)
          assert.equal(grant.refreshToken, 'k2-rt')
        }),
      )

      test(
        'a moved version, changed tokens or a missing grant write nothing',
        withStore(async ({ store }) => {
          await store.writeGrant('acct', grantWrite(), T0)
          await store.commitRefresh('acct', 1, refreshCommit(), T0 + 1)
          const committed = await mustGet(store, 'acct')
          assert.equal(await store.resealGrant('acct', 1, { from: sealed('sealed-at-1', 'sealed-rt-1'), to: sealed('x', 'y') }), false)
          assert.equal(await store.resealGrant('acct', 2, { from: sealed('sealed-at-1', 'sealed-rt-1'), to: sealed('x', 'y') }), false)
          assert.equal(await store.resealGrant('acct', 2, { from: sealed('sealed-at-2', null), to: sealed('x', 'y') }), false)
          assert.deepEqual(await store.getGrant('acct'), committed)
          assert.equal(await store.resealGrant('gone', 1, { from: sealed(null, null), to: sealed('x', 'y') }), false)
          assert.equal(await store.getGrant('gone'), null)
        }),
      )
    })

    describe('reseal progress (key rotation)', () => {
      test(
        'none at first; kept as recorded, replaced by the next record, cleared by null',
        withStore(async ({ store }) => {
          assert.equal(await store.getResealProgress(), null)
          const progress = { keyId: 'k2', cursor: 'acct-199', accounts: 200, resealed: 380, startedAt: T0, updatedAt: T0 + 5 }
          await store.setResealProgress(progress)
          assert.deepEqual(await store.getResealProgress(), progress)
          const next = { ...progress, cursor: 'acct-399', accounts: 400, resealed: 780, updatedAt: T0 + 9 }
          await store.setResealProgress(next)
          assert.deepEqual(await store.getResealProgress(), next)
          await store.setResealProgress(null)
          assert.equal(await store.getResealProgress(), null)
        }),
      )
    })

    describe('deleteGrant', () => {
      test(
        'deletes once, then reports nothing to delete',
        withStore(async ({ store }) => {
          await store.writeGrant('a', grantWrite(), T0)
          await store.writeGrant('b', grantWrite(), T0)
          assert.equal(await store.deleteGrant('a'), true)
          assert.equal(await store.getGrant('a'), null)
          assert.deepEqual(await store.listAccounts(null, 10), ['b'])
          assert.equal(await store.deleteGrant('a'), false)
          assert.equal(await store.deleteGrant('never-was'), false)
          assert.ok(await store.getGrant('b'))
        }),
      )

      test(
        'a deleted id can be created again from version 1',
        withStore(async ({ store }) => {
          await store.writeGrant('a', grantWrite(), T0)
          await store.commitRefresh('a', 1, refreshCommit(), T0 + 1)
          await store.deleteGrant('a')
          assert.equal(await store.writeGrant('a', grantWrite({ provider: 'github' }), T0 + 2), 'created')
          const grant = await mustGet(store, 'a')
          assert.equal(grant.provider, 'github')
          assert.equal(grant.version, 1)
          assert.equal(grant.createdAt, T0 + 2)
        }),
      )

      test(
        'a deleted grant is no longer due for refresh',
        withStore(async ({ store }) => {
          await store.writeGrant('a', grantWrite(), T0)
          await store.setRefreshDue('a', T0)
          await store.deleteGrant('a')
          assert.deepEqual(await store.listRefreshDue(T0 + HOUR, 10), [])
        }),
      )
    })

    describe('getGrants', () => {
      test(
        'returns grants in the order asked, null for missing ones',
        withStore(async ({ store }) => {
          await store.writeGrant('a', grantWrite({ accessToken: 'at-a' }), T0)
          await store.writeGrant('c', grantWrite({ accessToken: 'at-c' }), T0)
          const grants = await store.getGrants(['c', 'missing', 'a'])
          assert.deepEqual(
            grants.map((g) => g?.accessToken ?? null),
            ['at-c', null, 'at-a'],
          )
          assert.deepEqual(await store.getGrants([]), [])
        }),
      )
    })

    describe('listAccounts', () => {
      const ids = [
        'zeta',
        'Zeta',
        'alpha',
        'Alpha',
        'alpha.1',
        'alpha-1',
        'alpha:1',
        'alpha@1',
        'alpha_1',
        '0',
        '9',
        'A',
        'a',
        'a.b',
        'a-b',
        'a:b',
        'a@b',
        'user@example.com',
        'crm-prod',
        'crm-prod.eu',
        'crm-prod2',
        'B',
        'b',
        'x',
        'X1',
        'x1',
        'm',
        'M',
        '00',
        'Zz',
      ]

      test(
        'lists in byte order, paged with the after cursor',
        withStore(async ({ store }) => {
          assert.equal(new Set(ids).size, 30)
          for (const [i, id] of [...ids].reverse().entries()) await store.writeGrant(id, grantWrite(), T0 + i)
          const expected = [...ids].sort(byteOrder)

          assert.deepEqual(await store.listAccounts(null, 500), expected)
          assert.deepEqual(await store.listAccounts(null, 5), expected.slice(0, 5))

          const paged: string[] = []
          let after: string | null = null
          for (let pages = 0; pages < 20; pages++) {
            const page: string[] = await store.listAccounts(after, 7)
            assert.ok(page.length <= 7)
            paged.push(...page)
            if (page.length < 7) break
            after = page.at(-1)!
          }
          assert.deepEqual(paged, expected)
        }),
      )

      test(
        'after is exclusive and need not be a stored id',
        withStore(async ({ store }) => {
          for (const id of ['a', 'b', 'c', 'd']) await store.writeGrant(id, grantWrite(), T0)
          assert.deepEqual(await store.listAccounts('b', 10), ['c', 'd'])
          assert.deepEqual(await store.listAccounts('bb', 10), ['c', 'd'])
          assert.deepEqual(await store.listAccounts('A', 2), ['a', 'b'])
          assert.deepEqual(await store.listAccounts('d', 10), [])
          assert.deepEqual(await store.listAccounts('z', 10), [])
        }),
      )

      test(
        'a replaced grant is listed once; a conflicting write adds nothing',
        withStore(async ({ store }) => {
          await store.writeGrant('a', grantWrite(), T0)
          await store.writeGrant('a', grantWrite(), T0 + 1)
          assert.equal(await store.writeGrant('a', grantWrite({ provider: 'github' }), T0 + 2), 'conflict')
          assert.deepEqual(await store.listAccounts(null, 10), ['a'])
        }),
      )
    })

    describe('refresh-due index', () => {
      test(
        'lists due accounts oldest first, up to the limit; null clears',
        withStore(async ({ store }) => {
          await store.setRefreshDue('late', T0 + 300)
          await store.setRefreshDue('early', T0 + 100)
          await store.setRefreshDue('future', T0 + HOUR)
          await store.setRefreshDue('mid', T0 + 200)
          assert.deepEqual(await store.listRefreshDue(T0 + 300, 10), [
            { account: 'early', dueAt: T0 + 100 },
            { account: 'mid', dueAt: T0 + 200 },
            { account: 'late', dueAt: T0 + 300 },
          ])
          assert.deepEqual(await store.listRefreshDue(T0 + 300, 2), [
            { account: 'early', dueAt: T0 + 100 },
            { account: 'mid', dueAt: T0 + 200 },
          ])
          await store.setRefreshDue('early', T0 + 2 * HOUR)
          await store.setRefreshDue('mid', null)
          assert.deepEqual(await store.listRefreshDue(T0 + 300, 10), [{ account: 'late', dueAt: T0 + 300 }])
          assert.deepEqual(await store.listRefreshDue(T0, 10), [])
        }),
      )
    })

    describe('link state', () => {
      test(
        'can be taken exactly once',
        withStore(async ({ store }) => {
          await store.putConnectState('state-1', 'sealed-state-1', 600)
          await store.putConnectState('state-2', 'sealed-state-2', 600)
          assert.equal(await store.takeConnectState('state-1'), 'sealed-state-1')
          assert.equal(await store.takeConnectState('state-1'), null)
          assert.equal(await store.takeConnectState('unknown'), null)
          assert.equal(await store.takeConnectState('state-2'), 'sealed-state-2')
        }),
      )

      test(
        'concurrent takes of one state: exactly one gets it',
        withStore(async ({ store }) => {
          await store.putConnectState('contested', 'sealed', 600)
          const taken = await Promise.all(Array.from({ length: 10 }, () => store.takeConnectState('contested')))
          assert.deepEqual(
            taken.filter((v) => v !== null),
            ['sealed'],
          )
        }),
      )

      test(
        'expires after its lifetime',
        withStore(async (h) => {
          const { store } = h
          await store.putConnectState('kept', 'sealed-kept', 1)
          await store.putConnectState('expiring', 'sealed-expiring', 1)
          const putAt = Date.now()
          assert.equal(await store.takeConnectState('kept'), 'sealed-kept', 'still there before its lifetime ends')
          await letTimePass(h, putAt, 1_100)
          assert.equal(await store.takeConnectState('expiring'), null)
        }),
      )
    })

    describe('change events', () => {
      test(
        'fire with (account, new version) for write, commit, mark and delete',
        withStore(async ({ store }) => {
          const changes = recordChanges(store)
          try {
            await store.writeGrant('acct', grantWrite(), T0)
            await changes.until('acct', 1)
            await store.writeGrant('acct', grantWrite(), T0 + 1)
            await changes.until('acct', 2)
            await store.commitRefresh('acct', 2, refreshCommit(), T0 + 2)
            await changes.until('acct', 3)
            await store.markReauthRequired('acct', 3, lastError('REFRESH_TOKEN_INVALID'), T0 + 3)
            await changes.until('acct', 4)
            await store.deleteGrant('acct')
            await changes.until('acct', 5)
            assert.deepEqual(changes.of('acct'), [1, 2, 3, 4, 5])
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'failed writes announce nothing',
        withStore(async ({ store }) => {
          const changes = recordChanges(store)
          try {
            await store.writeGrant('acct', grantWrite(), T0)
            await changes.until('acct', 1)
            assert.equal(await store.writeGrant('acct', grantWrite({ provider: 'github' }), T0), 'conflict')
            assert.equal(await store.commitRefresh('acct', 7, refreshCommit(), T0), false)
            assert.equal(await store.markReauthRequired('acct', 7, lastError('X'), T0), false)
            assert.equal(await store.deleteGrant('ghost'), false)
            // A successful write after the failed ones: once its event is in, any event of
            // the failed ones (sent earlier on the same path) would be too.
            await store.commitRefresh('acct', 1, refreshCommit(), T0)
            await changes.until('acct', 2)
            assert.deepEqual(changes.seen, [
              ['acct', 1],
              ['acct', 2],
            ])
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'concurrent writes each announce the version they produced',
        withStore(async ({ store }) => {
          const changes = recordChanges(store)
          try {
            const outcomes = await Promise.all([
              store.writeGrant('acct', grantWrite({ accessToken: 'one' }), T0),
              store.writeGrant('acct', grantWrite({ accessToken: 'two' }), T0),
              store.writeGrant('acct', grantWrite({ accessToken: 'three' }), T0),
            ])
            assert.deepEqual([...outcomes].sort(), ['created', 'replaced', 'replaced'])
            await changes.until('acct', 3)
            await waitFor('three change events', () => (changes.of('acct').length >= 3 ? true : undefined), { timeoutMs: 5_000 })
            assert.deepEqual([...changes.of('acct')].sort(), [1, 2, 3])
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'arrive in the order the changes were made',
        withStore(async ({ store }) => {
          const changes = recordChanges(store)
          try {
            // Issued back to back without awaiting: each one is applied in call order.
            const results = await Promise.all([
              store.writeGrant('acct', grantWrite(), T0),
              store.commitRefresh('acct', 1, refreshCommit(), T0 + 1),
              store.markReauthRequired('acct', 2, lastError('TOKEN_REUSE_DETECTED'), T0 + 2),
              store.deleteGrant('acct'),
            ])
            assert.deepEqual(results, ['created', true, true, true])
            await changes.until('acct', 4)
            assert.deepEqual(changes.of('acct'), [1, 2, 3, 4])
          } finally {
            changes.stop()
          }
        }),
      )

      test(
        'an unsubscribed listener hears nothing more',
        withStore(async ({ store }) => {
          const first = recordChanges(store)
          const second = recordChanges(store)
          try {
            await store.writeGrant('acct', grantWrite(), T0)
            await first.until('acct', 1)
            await second.until('acct', 1)
            first.stop()
            await store.writeGrant('acct', grantWrite(), T0)
            await second.until('acct', 2)
            assert.deepEqual(first.of('acct'), [1])
          } finally {
            first.stop()
            second.stop()
          }
        }),
      )
    })

    describe('refresh lock', () => {
      test(
        'is exclusive: a second owner cannot take it',
        withStore(async ({ store }) => {
          assert.equal(await store.acquireLock('acct', 'owner-a', 30_000), true)
          assert.equal(await store.acquireLock('acct', 'owner-b', 30_000), false)
          assert.equal(await store.acquireLock('acct', 'owner-a', 30_000), false, 'not re-entrant either')
          assert.equal(await store.acquireLock('other-acct', 'owner-b', 30_000), true, 'locks are per account')
        }),
      )

      test(
        'a non-owner can neither release nor extend it',
        withStore(async ({ store }) => {
          assert.equal(await store.acquireLock('acct', 'owner-a', 30_000), true)
          assert.equal(await store.releaseLock('acct', 'owner-b'), false)
          assert.equal(await store.extendLock('acct', 'owner-b', 30_000), false)
          assert.equal(await store.acquireLock('acct', 'owner-b', 30_000), false, 'still held by owner-a')
          assert.equal(await store.releaseLock('acct', 'owner-a'), true)
        }),
      )

      test(
        'the owner releases it, once',
        withStore(async ({ store }) => {
          assert.equal(await store.acquireLock('acct', 'owner-a', 30_000), true)
          assert.equal(await store.releaseLock('acct', 'owner-a'), true)
          assert.equal(await store.releaseLock('acct', 'owner-a'), false)
          assert.equal(await store.extendLock('acct', 'owner-a', 30_000), false, 'a released lock cannot be extended')
          assert.equal(await store.acquireLock('acct', 'owner-b', 30_000), true)
        }),
      )

      test(
        'expires after its TTL, and the old owner cannot free the new holder',
        withStore(async (h) => {
          const { store } = h
          const start = Date.now()
          assert.equal(await store.acquireLock('acct', 'owner-a', 2_000), true)
          assert.equal(await store.acquireLock('acct', 'owner-b', 2_000), false)
          if (h.clock) h.clock.advance(2_000)
          await waitFor('the lock to expire', async () => ((await store.acquireLock('acct', 'owner-b', 30_000)) ? true : undefined))
          if (!h.clock) assert.ok(Date.now() - start >= 1_990, `taken over after ${Date.now() - start} ms, before the 2 s TTL`)
          assert.equal(await store.releaseLock('acct', 'owner-a'), false)
          assert.equal(await store.extendLock('acct', 'owner-a', 30_000), false)
          assert.equal(await store.acquireLock('acct', 'owner-c', 30_000), false, 'owner-b still holds it')
          assert.equal(await store.releaseLock('acct', 'owner-b'), true)
        }),
      )

      test(
        'extending keeps it alive past its first TTL',
        withStore(async (h) => {
          const { store } = h
          const start = Date.now()
          assert.equal(await store.acquireLock('acct', 'owner-a', 2_000), true)
          assert.equal(await store.extendLock('acct', 'owner-a', 60_000), true)
          await letTimePass(h, start, 2_500)
          assert.equal(await store.acquireLock('acct', 'owner-b', 2_000), false, 'the extended lock is still held')
          assert.equal(await store.extendLock('acct', 'owner-a', 60_000), true)
          assert.equal(await store.releaseLock('acct', 'owner-a'), true)
        }),
      )

      test(
        '50 contending owners: one holder at a time, and every one gets in',
        withStore(async ({ store }) => {
          const owners = Array.from({ length: 50 }, (_, i) => `owner-${i}-${Math.random().toString(36).slice(2)}`)
          const rounds = 2
          const events: string[] = []
          const inside = new Set<string>()
          const overlaps: string[] = []
          const deadline = Date.now() + 60_000

          await Promise.all(
            owners.map(async (owner) => {
              for (let round = 0; round < rounds; round++) {
                while (!(await store.acquireLock('contended', owner, 60_000))) {
                  if (Date.now() > deadline) throw new Error(`${owner} never got the lock`)
                  await tick()
                }
                events.push(`enter ${owner}`)
                if (inside.size > 0) overlaps.push(`${owner} entered while ${[...inside].join(',')} held the lock`)
                inside.add(owner)
                await tick()
                inside.delete(owner)
                events.push(`exit ${owner}`)
                assert.equal(await store.releaseLock('contended', owner), true, `${owner} releases its own lock`)
              }
            }),
          )

          assert.deepEqual(overlaps, [])
          assert.equal(events.length, owners.length * rounds * 2)
          for (let i = 0; i < events.length; i += 2) {
            const owner = events[i]!.slice('enter '.length)
            assert.equal(events[i], `enter ${owner}`)
            assert.equal(events[i + 1], `exit ${owner}`, 'the next event after an enter is the same owner leaving')
          }
          for (const owner of owners) {
            assert.equal(events.filter((e) => e === `enter ${owner}`).length, rounds, `${owner} got in every round`)
          }
        }),
      )
    })
  })
}
