import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { createRedisClient } from '../../src/store/redis-client.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedisSentinel, type RedisSentinel } from '../helpers/redis-sentinel.js'
import { withConnection } from '../helpers/redis-server.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { recordChanges, waitFor } from '../helpers/wait.js'
import { grantWrite, refreshCommit, storeContract } from './store-contract.js'

/**
 * One master, one replica and one Sentinel for the file; every store and broker uses its own
 * key prefix. The failover test runs last: it swaps the master and the replica.
 */
const rs: RedisSentinel = await startRedisSentinel()
let stub: StubProvider
before(async () => {
  stub = await startStubProvider()
})
after(async () => {
  await stub?.close()
  await rs.stop()
})

const T0 = 1_700_000_000_000
const headers = bearer()

/** A store through the Sentinel, built and connected the way the app does it. */
async function connectStore(prefix = `s${randomUUID()}:`): Promise<RedisStore> {
  const store = new RedisStore(createRedisClient({ kind: 'sentinel', sentinels: rs.sentinels, name: rs.name }, 1000), prefix)
  await store.connect()
  return store
}

/** The port the store's command connection is really connected to. */
const connectedPort = (store: RedisStore) => ((store.client as Redis).stream as Socket).remotePort

storeContract('RedisStore through Redis Sentinel', async () => {
  const store = await connectStore()
  return { store, cleanup: () => store.close() }
})

describe('RedisStore through Redis Sentinel', () => {
  test('connects to the master the Sentinel reports; writes, reads, locks and change events between two instances', async () => {
    const prefix = `rw${randomUUID()}:`
    const [one, two] = [await connectStore(prefix), await connectStore(prefix)]
    const heardByOne = recordChanges(one)
    const heardByTwo = recordChanges(two)
    try {
      assert.equal(await rs.masterPort(), rs.master.port)
      assert.equal(connectedPort(one), rs.master.port, 'the command connection is on the master')
      assert.equal(connectedPort(two), rs.master.port)

      assert.equal(await one.writeGrant('acct', grantWrite({ accessToken: 'sealed-at-1' }), T0), 'created')
      assert.equal((await two.getGrant('acct'))?.accessToken, 'sealed-at-1', 'the other instance reads it')
      assert.equal(await two.commitRefresh('acct', 1, refreshCommit({ accessToken: 'sealed-at-2' }), T0 + 1), true)
      assert.equal((await one.getGrant('acct'))?.version, 2)
      assert.deepEqual(await one.listAccounts(null, 10), ['acct'])
      for (const heard of [heardByOne, heardByTwo]) {
        await heard.until('acct', 2)
        assert.deepEqual(heard.of('acct'), [1, 2], 'every change, in order, on both instances')
      }

      assert.equal(await one.acquireLock('acct', 'owner-1', 60_000), true)
      assert.equal(await two.acquireLock('acct', 'owner-2', 60_000), false, 'the lock is shared')
      assert.equal(await two.extendLock('acct', 'owner-2', 60_000), false)
      assert.equal(await one.extendLock('acct', 'owner-1', 60_000), true)
      assert.equal(await two.releaseLock('acct', 'owner-2'), false)
      assert.equal(await one.releaseLock('acct', 'owner-1'), true)
      assert.equal(await two.acquireLock('acct', 'owner-2', 60_000), true, 'free again')

      await one.putConnectState('state-1', 'sealed-state', 600)
      assert.equal(await two.takeConnectState('state-1'), 'sealed-state')
      assert.equal(await one.takeConnectState('state-1'), null)

      // Written on the master, replicated to the replica.
      const key = `${prefix}{acct}:grant`
      assert.equal(await withConnection(rs.master.port, (c) => c.hget(key, 'version')), '2')
      await waitFor('the grant on the replica', () =>
        withConnection(rs.replica.port, async (c) => (await c.hget(key, 'version')) === '2' || undefined),
      )
      assert.equal(await one.deleteGrant('acct'), true)
      await heardByTwo.until('acct', 3)
    } finally {
      heardByOne.stop()
      heardByTwo.stop()
      await one.close()
      await two.close()
    }
  })
})

describe('the broker through Redis Sentinel', () => {
  test('REDIS_SENTINELS: 50 concurrent requests on two instances for an expiring grant, one provider call, one token', async (t) => {
    stub.requests.length = 0
    stub.handle('/token', rotatingTokens('sn-', { delayMs: 50 }))
    const prefix = `b${randomUUID()}:`
    const brokers = [
      await brokerFor(stub, { redis: { sentinels: rs.envSentinels }, env: { REDIS_KEY_PREFIX: prefix } }),
      await brokerFor(stub, { redis: { sentinels: rs.envSentinels }, env: { REDIS_KEY_PREFIX: prefix } }),
    ].map((b) => b.app)
    t.after(() => Promise.all(brokers.map((app) => app.close())))
    const [a, b] = brokers as [(typeof brokers)[0], (typeof brokers)[0]]
    for (const app of brokers) {
      const ready = await app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(ready.statusCode, 200, ready.body)
      assert.equal(connectedPort(app.storage.grants as RedisStore), rs.master.port)
    }

    await importGrant(a, 'acct-1', { access_token: 'old-at', refresh_token: 'rt-0', expires_in: 60 })
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => getAccess(i % 2 ? a : b, 'acct-1')))
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      Array(50).fill(200),
    )
    assert.deepEqual(new Set(answers.map((r) => r.json().access_token)), new Set(['sn-at-1']))
    assert.equal(stub.count('/token'), 1, 'exactly one provider call')
    assert.equal(stub.requests[0]!.body.refresh_token, 'rt-0')

    // Stored on the master, and served from the store afterwards.
    assert.equal(await withConnection(rs.master.port, (c) => c.hget(`${prefix}{acct-1}:grant`, 'version')), '2')
    assert.equal((await getAccess(b, 'acct-1')).json().access_token, 'sn-at-1')
    assert.equal((await b.inject({ method: 'GET', url: '/accounts/acct-1', headers })).json().status, 'active')
    assert.equal(stub.count('/token'), 1)
  })
})

// Last: it makes the replica the master.
describe('a Sentinel failover (SENTINEL FAILOVER)', () => {
  test('the store and the broker follow the promoted replica: reads, writes and change events go on', async (t) => {
    const prefix = `f${randomUUID()}:`
    const store = await connectStore(prefix)
    const heard = recordChanges(store)
    stub.requests.length = 0
    stub.handle('/token', rotatingTokens('fo-'))
    const { app } = await brokerFor(stub, { redis: { sentinels: rs.envSentinels }, env: { REDIS_KEY_PREFIX: prefix } })
    t.after(async () => {
      heard.stop()
      await app.close()
      await store.close()
    })

    await importGrant(app, 'imported', { access_token: 'imported-at', refresh_token: 'rt-0', expires_in: 3600 })
    assert.equal(await store.writeGrant('before', grantWrite({ accessToken: 'sealed-before' }), T0), 'created')
    await waitFor('both grants on the replica', () =>
      withConnection(
        rs.replica.port,
        async (c) => (await c.exists(`${prefix}{imported}:grant`, `${prefix}{before}:grant`)) === 2 || undefined,
      ),
    )

    const promoted = await rs.failover()
    assert.equal(promoted.port, rs.replica.port, 'the replica is the master now')

    // The client drops the demoted master as soon as the Sentinel announces the switch
    // (failoverDetector). Without that it kept writing to the demoted master, which stays
    // writable until Sentinel reconfigures it ~10 s later and then discards those writes.
    let n = 0
    await waitFor(
      'a write through the store that lands on the new master',
      async () => {
        const account = `after-${n++}`
        await store.writeGrant(account, grantWrite(), T0)
        return (await withConnection(promoted.port, (c) => c.exists(`${prefix}{${account}}:grant`))) === 1 || undefined
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    )
    assert.equal(connectedPort(store), promoted.port)

    assert.equal((await store.getGrant('before'))?.accessToken, 'sealed-before', 'what was written before is read')
    assert.equal(await store.commitRefresh('before', 1, refreshCommit({ accessToken: 'sealed-after' }), T0 + 1), true)
    assert.equal(await withConnection(promoted.port, (c) => c.hget(`${prefix}{before}:grant`, 'version')), '2')
    await heard.until('before', 2)
    assert.equal(await store.acquireLock('before', 'owner', 60_000), true)

    // The broker app follows too: it serves the imported account and refreshes it there.
    await waitFor(
      'the broker connected to the new master',
      () => connectedPort(app.storage.grants as RedisStore) === promoted.port || undefined,
      { timeoutMs: 5_000 },
    )
    const served = await waitFor<{ access_token: string }>(
      'the broker serving the account after the failover',
      async () => {
        const res = await getAccess(app, 'imported')
        return res.statusCode === 200 ? res.json() : undefined
      },
      { timeoutMs: 5_000 },
    )
    assert.equal(served.access_token, 'imported-at')
    const refreshed = await waitFor<{ access_token: string }>(
      'a forced refresh after the failover',
      async () => {
        const res = await app.inject({ method: 'POST', url: '/tokens/imported/refresh', headers })
        return res.statusCode === 200 ? res.json() : undefined
      },
      { timeoutMs: 5_000 },
    )
    assert.equal(refreshed.access_token, 'fo-at-1')
    assert.equal(stub.count('/token'), 1)
    assert.equal(
      await withConnection(promoted.port, (c) => c.hget(`${prefix}{imported}:grant`, 'version')),
      '2',
      'the refresh is on the new master',
    )
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  })
})
