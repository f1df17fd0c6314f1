import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Redis, type Cluster } from 'ioredis'
import { keySlot } from '../../src/store/key-slot.js'
import { keySpace } from '../../src/store/keys.js'
import { RedisAuditLog } from '../../src/store/redis-audit-log.js'
import { RedisWebhookQueue } from '../../src/store/redis-webhook-queue.js'
import { createRedisClient } from '../../src/store/redis-client.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { auditContract } from '../events/audit-contract.js'
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { readEvents, withConnection } from '../helpers/redis-server.js'
import { recordChanges } from '../helpers/wait.js'
import { grantWrite, refreshCommit, storeContract } from './store-contract.js'

/** One cluster for the whole file; every store gets its own key prefix instead of a flush. */
const cluster: RedisCluster = await startRedisCluster({ masters: 3 })
after(() => cluster.stop())

const T0 = 1_700_000_000_000
const lastError = (code: string) => JSON.stringify({ code, message: `${code} happened`, at: new Date(T0).toISOString() })

/** A store on the cluster, built and connected the way createStorage does it. */
async function connectStore(prefix = `c${randomUUID()}:`, commandTimeoutMs = 1_000): Promise<RedisStore> {
  const store = new RedisStore(createRedisClient({ kind: 'cluster', nodes: cluster.nodes }, commandTimeoutMs), prefix)
  await store.connect()
  return store
}

/** Every key under `prefix` each node really holds. */
async function keysByNode(prefix: string): Promise<Map<number, string[]>> {
  const result = new Map<number, string[]>()
  for (const { port } of cluster.nodes) result.set(port, (await cluster.keysOn(port, `${prefix}*`)).sort())
  return result
}

storeContract('RedisStore on Redis Cluster', async () => {
  const store = await connectStore()
  return { store, cleanup: () => store.close() }
})

describe('RedisStore on Redis Cluster: slots', () => {
  let byNode: Map<number, string[]>
  let states: Map<number, string[]>
  before(async () => {
    byNode = await cluster.idsOnEveryNode('acct', 2)
    states = await cluster.idsOnEveryNode('state', 1)
  })

  test('the cluster really refuses a script whose keys span slots (so the checks below mean something)', async () => {
    const store = await connectStore()
    try {
      const [a, b] = [byNode.get(cluster.nodes[0]!.port)![0]!, byNode.get(cluster.nodes[1]!.port)![0]!]
      const client = store.client as Cluster
      await assert.rejects(client.eval('return 1', 2, `{${a}}:x`, `{${b}}:y`), /CROSSSLOT|cross slot|same slot/i)
    } finally {
      await store.close()
    }
  })

  test('keySlot (which groups rotated commits by node) computes the slot the cluster does', async () => {
    const ids = ['acct-1', 'a', 'ünïcødé', 'x'.repeat(300), ...[...byNode.values()].flat()]
    const slots = await withConnection(cluster.nodes[0]!.port, (c) => Promise.all(ids.map((id) => c.cluster('KEYSLOT', `p:{${id}}:grant`))))
    assert.deepEqual(
      ids.map((id) => keySlot(id)),
      slots,
    )
  })

  test('grant, lock and link-state keys of accounts on every node: every script runs, none crosses slots', async () => {
    const prefix = `slots${randomUUID()}:`
    const store = await connectStore(prefix)
    try {
      const accounts = [...byNode.values()].flat()
      for (const account of accounts) {
        assert.equal(await store.writeGrant(account, grantWrite({ accessToken: `at-${account}` }), T0), 'created', account)
        assert.equal(await store.writeGrant(account, grantWrite({ refreshToken: null, keepRefreshToken: true }), T0 + 1), 'replaced')
        assert.equal(await store.writeGrant(account, grantWrite({ provider: 'github' }), T0 + 1), 'conflict')
        assert.equal(await store.commitRefresh(account, 2, refreshCommit({ accessToken: `at2-${account}` }), T0 + 2), true, account)
        assert.equal(
          await store.commitRefresh(account, 2, refreshCommit({ accessToken: `at2-${account}` }), T0 + 2),
          true,
          'an applied commit retried',
        )
        assert.equal(await store.commitRefresh(account, 2, refreshCommit({ accessToken: 'stale' }), T0 + 2), false, 'a fenced-off commit')
        assert.equal(
          await store.recordFailure(account, 3, { lastError: lastError('PROVIDER_UNAVAILABLE'), retryAt: T0 + 9, failures: 1 }),
          true,
        )
        assert.match((await store.getGrant(account))?.lastError ?? '', /PROVIDER_UNAVAILABLE/)
        await store.setRefreshDue(account, T0 + 4)

        assert.equal(await store.acquireLock(account, 'owner-a', 60_000), true)
        assert.equal(await store.acquireLock(account, 'owner-b', 60_000), false)
        assert.equal(await store.extendLock(account, 'owner-b', 60_000), false)
        assert.equal(await store.extendLock(account, 'owner-a', 60_000), true)
        assert.equal(await store.releaseLock(account, 'owner-b'), false)
      }
      for (const state of [...states.values()].flat()) await store.putConnectState(state, `sealed-${state}`, 600)

      // Where each key physically is: on the node owning its {account} (or {state}) slot.
      const held = await keysByNode(prefix)
      for (const [port, ids] of byNode) {
        for (const account of ids) {
          for (const key of [`${prefix}{${account}}:grant`, `${prefix}{${account}}:lock`]) {
            assert.ok(held.get(port)!.includes(key), `${key} is on node ${port}`)
          }
        }
        const state = states.get(port)![0]!
        assert.ok(held.get(port)!.includes(`${prefix}{${state}}:connect`), `link state ${state} is on node ${port}`)
      }
      assert.equal(
        [...held.values()].filter((keys) => keys.some((k) => k.includes(':grant'))).length,
        cluster.nodes.length,
        'grants are spread over every master',
      )

      assert.deepEqual(await store.listAccounts(null, 100), [...accounts].sort())
      assert.deepEqual((await store.listRefreshDue(T0 + 4, 100)).map((d) => d.account).sort(), [...accounts].sort())
      const grants = await store.getGrants(accounts)
      assert.deepEqual(
        grants.map((g) => g?.accessToken),
        accounts.map((a) => `at2-${a}`),
      )
      assert.ok(grants.every((g) => g?.version === 3))

      for (const account of accounts) {
        assert.equal(await store.markReauthRequired(account, 2, lastError('X'), T0 + 5), false, 'fenced: wrong version')
        assert.equal(await store.markReauthRequired(account, 3, lastError('TOKEN_REUSE_DETECTED'), T0 + 5), true, account)
        const grant = await store.getGrant(account)
        assert.equal(grant?.status, 'reauth_required')
        assert.equal(grant?.accessToken, null)
        assert.equal(grant?.refreshToken, null)
        assert.equal(await store.releaseLock(account, 'owner-a'), true)
        assert.equal(await store.deleteGrant(account), true, account)
        assert.equal(await store.deleteGrant(account), false)
        assert.equal(await store.getGrant(account), null)
      }
      for (const state of [...states.values()].flat()) assert.equal(await store.takeConnectState(state), `sealed-${state}`)

      assert.deepEqual(await store.listAccounts(null, 100), [])
      assert.deepEqual(await store.listRefreshDue(T0 + 4, 100), [])
      const left = [...(await keysByNode(prefix)).values()].flat()
      assert.deepEqual(
        left.filter((k) => k.includes('{acct-') || k.includes('{state-')),
        [],
        'nothing of the accounts is left',
      )
    } finally {
      await store.close()
    }
  })

  test('change events of accounts on every node reach every instance through its cluster subscriber', async () => {
    const prefix = `events${randomUUID()}:`
    const [one, two] = [await connectStore(prefix), await connectStore(prefix)]
    const heardByOne = recordChanges(one)
    const heardByTwo = recordChanges(two)
    try {
      const accounts = [...byNode.values()].flat()
      for (const [i, account] of accounts.entries()) {
        const writer = i % 2 === 0 ? one : two
        await writer.writeGrant(account, grantWrite(), T0)
        await writer.commitRefresh(account, 1, refreshCommit(), T0 + 1)
        await writer.markReauthRequired(account, 2, lastError('REFRESH_TOKEN_INVALID'), T0 + 2)
        await writer.deleteGrant(account)
      }
      for (const account of accounts) {
        for (const heard of [heardByOne, heardByTwo]) {
          await heard.until(account, 4)
          assert.deepEqual(heard.of(account), [1, 2, 3, 4], `${account}: every change, in order`)
        }
      }
    } finally {
      heardByOne.stop()
      heardByTwo.stop()
      await one.close()
      await two.close()
    }
  })

  test('used at once after connect: back-to-back calls for accounts on every node are applied in call order', async () => {
    // Right after connect ioredis has opened a connection to one node only; the first calls
    // for the others open theirs. Calls issued meanwhile must neither fail nor overtake
    // one another (the contract: calls issued without awaiting apply in call order). A call
    // that waited for a connection longer than the command timeout (1 s) would fail.
    const accounts = [...byNode.values()].flat()
    for (let round = 0; round < 3; round++) {
      const store = await connectStore()
      try {
        const results = await Promise.all(
          accounts.map((account) =>
            Promise.all([
              store.writeGrant(account, grantWrite(), T0),
              ...Array.from({ length: 20 }, (_, i) =>
                store.commitRefresh(account, i + 1, refreshCommit({ accessToken: `at-${i}` }), T0 + i),
              ),
            ]),
          ),
        )
        for (const [i, account] of accounts.entries()) {
          assert.deepEqual(results[i], ['created', ...Array.from({ length: 20 }, () => true)], `${account}: applied in call order`)
          assert.equal((await store.getGrant(account))?.version, 21)
        }
      } finally {
        await store.close()
      }
    }
  })
})

describe('RedisStore on Redis Cluster: the reads of one turn', () => {
  test('reach each master in one write: eight reads per node made together are one read event on each', async () => {
    const ids = await cluster.idsOnEveryNode('turn', 8)
    const accounts = [...ids.values()].flat()
    const store = await connectStore()
    const raws = cluster.nodes.map(({ host, port }) => new Redis(port, host, { maxRetriesPerRequest: 0 }))
    const events = () => Promise.all(raws.map((raw) => readEvents(raw)))
    try {
      for (const account of accounts) await store.writeGrant(account, grantWrite(), T0)
      for (const turn of [1, 2]) {
        const before = await events()
        const reads = await Promise.all(accounts.map((a) => store.getServingGrant(a)))
        const after = await events()
        assert.deepEqual(
          reads.map((r) => r?.version),
          accounts.map(() => 1),
        )
        // On each node: one event for its eight HMGETs, one for the second INFO.
        assert.deepEqual(
          after.map((n, i) => n - before[i]!),
          raws.map(() => 2),
          `turn ${turn}`,
        )
      }
    } finally {
      for (const raw of raws) raw.disconnect()
      await store.close()
    }
  })
})

describe('audit trail and webhook queue on Redis Cluster', () => {
  // On the store's client, connected as the app connects it (the app shares that client).
  auditContract('Redis stream on Cluster', async (o) => {
    const prefix = `a${randomUUID()}:`
    const store = await connectStore(prefix)
    const log = new RedisAuditLog(store.client, keySpace(prefix), o)
    return { log, cleanup: () => store.close() }
  })

  test('the webhook queue (claim script and MULTIs on {webhooks}) works on Cluster', async () => {
    const prefix = `q${randomUUID()}:`
    const store = await connectStore(prefix)
    try {
      const q = new RedisWebhookQueue(store.client, keySpace(prefix))
      const job = (n: number) => ({
        id: `job-${n}`,
        url: `https://hooks.example.test/${n}`,
        event: 'account.reauth_required' as const,
        body: `{"n":${n}}`,
      })
      await q.enqueue([job(1), job(2)], T0)
      assert.equal(await q.size(), 2)
      const claimed = await q.claim(T0, 10, 30_000)
      assert.deepEqual(claimed, [
        { ...job(1), attempt: 1 },
        { ...job(2), attempt: 1 },
      ])
      await q.complete('job-1')
      await q.retryAt('job-2', T0 + 5)
      assert.deepEqual(await q.claim(T0 + 5, 10, 30_000), [{ ...job(2), attempt: 2 }])
      await q.complete('job-2')
      assert.equal(await q.size(), 0)
    } finally {
      await store.close()
    }
  })
})
