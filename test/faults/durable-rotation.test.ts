import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { testConfig } from '../helpers/app.js'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { startRedisSentinel, type RedisSentinel } from '../helpers/redis-sentinel.js'
import { withConnection } from '../helpers/redis-server.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'

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
const waitCalls = () => withConnection(rs.master.port, async (c) => {
  const line = (await c.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_wait:'))
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0)
})

async function broker(path: string) {
  const prefix = `d${randomUUID()}:`
  const { app } = await brokerFor(stub, { redis: { sentinels: rs.envSentinels }, provider: { token_url: `${stub.url}${path}` }, env: { REDIS_KEY_PREFIX: prefix, PROACTIVE_REFRESH: 'false' } })
  apps.push(app)
  return { app, prefix }
}

const refresh = (app: FastifyInstance, account: string) =>
  app.inject({ method: 'POST', url: `/tokens/${account}/refresh`, headers: bearer() })

test('with Sentinel, WAIT for one replica is on by default, bounded below the command timeout, off elsewhere unless set', () => {
  const sentinel = { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster', ENCRYPTION_KEYS: 'k1:' + Buffer.alloc(32, 1).toString('base64') }
  assert.equal(testConfig(sentinel).storeWaitReplicasMs, 500)
  assert.equal(testConfig({ ...sentinel, REDIS_COMMAND_TIMEOUT_MS: '400' }).storeWaitReplicasMs, 200)
  assert.equal(testConfig({ ...sentinel, REDIS_WAIT_REPLICAS_MS: '0' }).storeWaitReplicasMs, 0)
  const standalone = { REDIS_URL: 'redis://127.0.0.1:6379', ENCRYPTION_KEYS: sentinel.ENCRYPTION_KEYS }
  assert.equal(testConfig(standalone).storeWaitReplicasMs, 0)
  assert.equal(testConfig({ ...standalone, REDIS_WAIT_REPLICAS_MS: '250' }).storeWaitReplicasMs, 250)
  assert.throws(() => testConfig({ ...standalone, REDIS_WAIT_REPLICAS_MS: '1000' }), /REDIS_WAIT_REPLICAS_MS must be less than REDIS_COMMAND_TIMEOUT_MS/)
})

test('a rotated refresh token is on the replica when the caller gets the new access token; a kept one costs no WAIT', async () => {
  const rotating = await broker('/rotating')
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

test('a replica that does not acknowledge delays the token by the WAIT\'s bound only', async () => {
  const { app } = await broker('/rotating')
  await importGrant(app, 'frozen', { access_token: 'at-0', refresh_token: 'rt-0', expires_in: 3600 })
  rs.replica.pause()
  try {
    const res = await refresh(app, 'frozen')
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.json().access_token, /^rot-at-\d+$/)
  } finally {
    rs.replica.resume()
  }
})
