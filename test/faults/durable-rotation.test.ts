import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { createRedisClient } from '../../src/store/redis-client.js'
import { RedisStore } from '../../src/store/redis-store.js'
import type { DurabilityEvent } from '../../src/store/store.js'
import { bearer, testConfig } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { withConnection } from '../helpers/redis-server.js'
import { startRedisSentinel, type RedisSentinel } from '../helpers/redis-sentinel.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'
import { T0, grantWrite, refreshCommit } from '../store/store-contract.js'

let rs: RedisSentinel
let stub: StubProvider
const apps: FastifyInstance[] = []
before(async () => {
  rs = await startRedisSentinel()
  stub = await startStubProvider()
  stub.handle('/rotating', rotatingTokens('rot-'))
  stub.handle('/keeping', rotatingTokens('keep-', { rotate: false }))
})
after(async () => {
  await Promise.all(apps.map((a) => a.close()))
  await stub.close()
  await rs.stop()
})

/** WAIT calls the master has served so far. */
const waitCalls = () =>
  withConnection(rs.master.port, async (c) => {
    const line = (await c.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_wait:'))
    return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0)
  })

async function broker(path: string, env: Record<string, string> = {}) {
  const prefix = `d${randomUUID()}:`
  const { app, logs } = await brokerFor(stub, {
    redis: { sentinels: rs.envSentinels },
    provider: { token_url: `${stub.url}${path}` },
    env: { REDIS_KEY_PREFIX: prefix, PROACTIVE_REFRESH: 'false', ACCESS_CACHE_MS: '0', ...env },
  })
  apps.push(app)
  return { app, prefix, logs }
}

const counter = async (app: FastifyInstance, name: string) => {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
}

/** Clients the master holds blocked (a WAIT waiting for its replica). */
const blockedOnMaster = () =>
  withConnection(rs.master.port, async (c) => Number(/blocked_clients:(\d+)/.exec(await c.info('clients'))?.[1]))

const refresh = (app: FastifyInstance, account: string) =>
  app.inject({ method: 'POST', url: `/tokens/${account}/refresh`, headers: bearer() })

test('with Sentinel, WAIT for one replica is on by default, bounded below the command timeout, off elsewhere unless set', () => {
  const sentinel = {
    REDIS_SENTINELS: '127.0.0.1:26379',
    REDIS_SENTINEL_NAME: 'mymaster',
    ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
  }
  assert.equal(testConfig(sentinel).storeWaitReplicasMs, 500)
  assert.equal(testConfig({ ...sentinel, REDIS_COMMAND_TIMEOUT_MS: '400' }).storeWaitReplicasMs, 200)
  assert.equal(testConfig({ ...sentinel, REDIS_WAIT_REPLICAS_MS: '0' }).storeWaitReplicasMs, 0)
  const standalone = { REDIS_URL: 'redis://127.0.0.1:6379', ENCRYPTION_KEYS: sentinel.ENCRYPTION_KEYS }
  assert.equal(testConfig(standalone).storeWaitReplicasMs, 0)
  assert.equal(testConfig({ ...standalone, REDIS_WAIT_REPLICAS_MS: '250' }).storeWaitReplicasMs, 250)
  assert.throws(
    () => testConfig({ ...standalone, REDIS_WAIT_REPLICAS_MS: '1000' }),
    /REDIS_WAIT_REPLICAS_MS must be less than REDIS_COMMAND_TIMEOUT_MS/,
  )
})

test('a rotated refresh token is on the replica when the caller gets the new access token; a kept one costs no WAIT', async () => {
  // A bound a busy machine's replica cannot miss: the claim is about acknowledged commits.
  const rotating = await broker('/rotating', { REDIS_COMMAND_TIMEOUT_MS: '20000', REDIS_WAIT_REPLICAS_MS: '10000' })
  await importGrant(rotating.app, 'acct', { access_token: 'at-0', refresh_token: 'rt-0', expires_in: 3600 })
  const before = await waitCalls()
  const res = await refresh(rotating.app, 'acct')
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(res.json().access_token, 'rot-at-1')
  assert.equal(await waitCalls(), before + 1, 'one WAIT, after the rotated commit')
  const key = `${rotating.prefix}{acct}:grant`
  const onMaster = await withConnection(rs.master.port, (c) => c.hget(key, 'rt'))
  assert.ok(onMaster)
  assert.equal(await withConnection(rs.replica.port, (c) => c.hget(key, 'rt')), onMaster)

  const keeping = await broker('/keeping')
  await importGrant(keeping.app, 'acct', { access_token: 'at-0', refresh_token: 'rt-0', expires_in: 3600 })
  const beforeKept = await waitCalls()
  assert.equal((await refresh(keeping.app, 'acct')).statusCode, 200)
  assert.equal(await waitCalls(), beforeKept, 'no WAIT when the refresh token did not change')
})

test('a replica that does not acknowledge: the token waits for the bound only, reads do not wait at all, and the broker warns and counts it', async () => {
  const { app, logs } = await broker('/rotating')
  await importGrant(app, 'frozen', { access_token: 'at-0', refresh_token: 'rt-0', expires_in: 3600 })
  await importGrant(app, 'reader', { access_token: 'reader-at', refresh_token: 'reader-rt', expires_in: 3600 })
  rs.replica.pause()
  try {
    const refreshing = refresh(app, 'frozen')
    let refreshed = false
    void refreshing.then(() => {
      refreshed = true
    })
    await waitFor("the rotated commit's WAIT to block on the master", async () => ((await blockedOnMaster()) >= 1 ? true : undefined))
    // WAIT blocks the connection it is sent on: reads go on another one.
    const read = await getAccess(app, 'reader')
    assert.equal(read.statusCode, 200, read.body)
    assert.equal(read.json().access_token, 'reader-at')
    assert.equal(refreshed, false, 'the read answered while the rotated commit still waited')
    const res = await refreshing
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.json().access_token, /^rot-at-\d+$/)
  } finally {
    rs.replica.resume()
  }
  assert.equal(await counter(app, 'store_unreplicated_commits_total'), 1)
  const warnings = logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg.startsWith('no replica acknowledged'))
  assert.deepEqual(
    warnings.map((w) => ({ level: w.level, commits: w.commits })),
    [{ level: 40, commits: 1 }],
  )
  assert.ok(!logs.text.includes('rot-') && !logs.text.includes('rt-0'), 'no token in the logs')
})

test('rotated commits that arrive while a WAIT is out share the next WAIT: a lagging replica costs each at most twice the bound', async () => {
  const { app } = await broker('/rotating')
  const accounts = Array.from({ length: 6 }, (_, i) => `group-${i}`)
  for (const account of accounts)
    await importGrant(app, account, { access_token: 'at-0', refresh_token: `rt-${account}`, expires_in: 3600 })
  const before = await waitCalls()
  rs.replica.pause()
  try {
    const first = refresh(app, accounts[0]!)
    await waitFor('the first WAIT to block', async () => ((await blockedOnMaster()) >= 1 ? true : undefined))
    const rest = await Promise.all(accounts.slice(1).map((account) => refresh(app, account)))
    assert.deepEqual(
      [(await first).statusCode, ...rest.map((r) => r.statusCode)],
      accounts.map(() => 200),
    )
  } finally {
    rs.replica.resume()
  }
  assert.equal(await waitCalls(), before + 2, 'one WAIT for the first commit, one for the five that came while it was out')
})

// Last: it makes the replica the master.
test('a rotated commit on a primary that a failover has just demoted is applied again on the new primary', async (t) => {
  // The store hears the Sentinel through a proxy: blackholed, it keeps using the demoted primary, as an instance does until +switch-master reaches it.
  const proxy = await startFaultProxy({ port: rs.sentinels[0]!.port })
  const store = new RedisStore(
    createRedisClient({ kind: 'sentinel', sentinels: [{ host: '127.0.0.1', port: proxy.port }], name: rs.name }, 1000),
    `f${randomUUID()}:`,
    500,
  )
  const events: DurabilityEvent[] = []
  store.onDurability((e) => events.push(e))
  t.after(async () => {
    await store.close()
    await proxy.close()
  })
  await store.connect()
  const key = (store as unknown as { keys: { grant(a: string): string } }).keys.grant('acct')
  assert.equal(await store.writeGrant('acct', grantWrite(), T0), 'created')
  await waitFor('the grant on the replica', () =>
    withConnection(rs.replica.port, async (c) => (await c.hget(key, 'version')) === '1' || undefined),
  )

  proxy.set({ mode: 'blackhole' })
  const demoted = await rs.currentMaster()
  const promoted = await rs.failover()
  assert.equal(((store.client as Redis).stream as Socket).remotePort, demoted.port, 'the store is still on the demoted primary')
  assert.equal(
    await store.commitRefresh('acct', 1, refreshCommit({ accessToken: 'sealed-at-2', refreshToken: 'sealed-rt-2' }), T0 + 1),
    true,
  )
  assert.deepEqual(events, [{ kind: 'unreplicated', commits: 1 }])
  assert.equal(await withConnection(promoted.port, (c) => c.hget(key, 'version')), '1', 'the new primary never got the commit')

  proxy.set({ mode: 'pass' }) // +switch-master reaches the store: it reconnects to the new primary
  await waitFor('the commit applied again', () => (events.length === 2 ? true : undefined), { timeoutMs: 15_000 })
  assert.deepEqual(events[1], { kind: 'reapplied', present: 1, superseded: 0 })
  assert.deepEqual(await withConnection(promoted.port, (c) => c.hmget(key, 'version', 'at', 'rt')), ['2', 'sealed-at-2', 'sealed-rt-2'])
  assert.equal((await store.getGrant('acct'))?.version, 2)
})
