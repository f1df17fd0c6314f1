import assert from 'node:assert/strict'
import { after, before, test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { KeyRing, parseKeyRingSpec } from '../../src/crypto/key-ring.js'
import { bearer, TEST_KEYS } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { json, rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitUntil } from '../helpers/wait.js'

/**
 * The near cache across instances, on real Redis. Entries are held for a minute here, so
 * anything a second instance sees before that came through the change feed, not expiry.
 */
let redis: RedisServer
let stub: StubProvider
before(async () => {
  redis = await startRedis()
  stub = await startStubProvider()
})
after(async () => {
  await stub.close()
  await redis.stop()
})

const HOLD = { ACCESS_CACHE_MS: '60000' }
let prefixes = 0

async function pair(server: RedisServer = redis) {
  const env = { ...HOLD, REDIS_KEY_PREFIX: `nc${++prefixes}:` }
  const a = (await brokerFor(stub, { redis: server, env })).app
  const b = (await brokerFor(stub, { redis: server, env })).app
  return { a, b, env, close: () => Promise.all([a.close(), b.close()]) }
}

const tokenOf = async (app: FastifyInstance, account: string) => {
  const res = await getAccess(app, account)
  return res.statusCode === 200 ? (res.json() as { access_token: string }).access_token : res.statusCode
}

async function seenBy(app: FastifyInstance, account: string, expected: string | number, what: string) {
  await waitUntil(what, async () => (await tokenOf(app, account)) === expected)
}

test('a revoke on one instance is seen by the other, which held the token', async (t) => {
  const { a, b, close } = await pair()
  t.after(close)
  await importGrant(a, 'revoked', { access_token: 'held-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(b, 'revoked'), 'held-at')
  const res = await a.inject({ method: 'DELETE', url: '/tokens/revoked', headers: bearer() })
  assert.equal(res.statusCode, 200)
  assert.equal(await tokenOf(a, 'revoked'), 404) // the writing instance at once
  await seenBy(b, 'revoked', 404, 'the other instance to stop serving the revoked token')
})

test('a relink (new grant written) and a forced refresh on one instance reach the other', async (t) => {
  stub.handle('/token', rotatingTokens('nc-'))
  const { a, b, close } = await pair()
  t.after(close)
  await importGrant(a, 'moved', { access_token: 'first-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(b, 'moved'), 'first-at')
  await importGrant(a, 'moved', { access_token: 'second-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(a, 'moved'), 'second-at')
  await seenBy(b, 'moved', 'second-at', 'the other instance to serve the relinked token')

  const forced = await a.inject({ method: 'POST', url: '/tokens/moved/refresh', headers: bearer(), payload: {} })
  assert.equal(forced.statusCode, 200)
  const refreshed = (forced.json() as { access_token: string }).access_token
  assert.match(refreshed, /^nc-at-/)
  await seenBy(b, 'moved', refreshed, 'the other instance to serve the refreshed token')
})

test('a grant wiped on one instance (the provider said invalid_grant) is a 409 on the other', async (t) => {
  stub.handle('/token', (_req, res) => json(res, 400, { error: 'invalid_grant' }))
  const { a, b, close } = await pair()
  t.after(close)
  await importGrant(a, 'wiped', { access_token: 'doomed-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(b, 'wiped'), 'doomed-at')
  const forced = await a.inject({ method: 'POST', url: '/tokens/wiped/refresh', headers: bearer(), payload: {} })
  assert.equal(forced.statusCode, 409)
  await seenBy(b, 'wiped', 409, 'the other instance to answer 409')
})

test('a change published while the subscriber is disconnected is not missed: the cache is flushed', async (t) => {
  const { a, b, env, close } = await pair()
  t.after(close)
  await importGrant(a, 'missed', { access_token: 'stale-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(b, 'missed'), 'stale-at')
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  // In one transaction: drop every subscriber, then wipe the grant and announce it. The
  // announcement reaches nobody; only the flush on reconnect keeps b from serving the token.
  const transitions: boolean[] = []
  t.after(b.storage.grants.onChangesLive((live) => transitions.push(live)))
  const grantKey = `${env.REDIS_KEY_PREFIX}{missed}:grant`
  await raw
    .multi()
    .client('KILL', 'TYPE', 'pubsub')
    .hset(grantKey, 'status', 'reauth_required')
    .hdel(grantKey, 'at', 'rt')
    .hincrby(grantKey, 'version', 1)
    .publish(`${env.REDIS_KEY_PREFIX}changed`, 'missed 99')
    .exec()
  await waitUntil('b to lose and regain its subscription', () => transitions.join() === 'false,true')
  assert.equal(await tokenOf(b, 'missed'), 409)
  assert.equal(await tokenOf(a, 'missed'), 409)
})

test('while Redis is down, a cached token that is still fresh is served; an uncached account is a 503', async (t) => {
  const outage = await startRedis()
  t.after(() => outage.stop())
  const { a, b, close } = await pair(outage)
  t.after(close)
  await importGrant(a, 'kept', { access_token: 'kept-at', refresh_token: 'rt', expires_in: 3600 })
  await importGrant(a, 'cold', { access_token: 'cold-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(b, 'kept'), 'kept-at')
  await outage.stop()
  await waitUntil('b to notice the subscriber is gone', () => !b.storage.grants.changesLive())
  const kept = await getAccess(b, 'kept')
  assert.equal(kept.statusCode, 200)
  assert.equal((kept.json() as { access_token: string }).access_token, 'kept-at')
  const cold = await getAccess(b, 'cold')
  assert.equal(cold.statusCode, 503)
  assert.equal((cold.json() as { code: string }).code, 'STORE_UNAVAILABLE')
  await outage.start()
  await waitUntil('b to subscribe again', () => b.storage.grants.changesLive())
})

/** One instance on a clock the test moves, a raw client, and the count of serving reads (HMGETs) Redis has run. */
async function clocked(t: TestContext) {
  const clock = { now: Date.UTC(2026, 10, 28, 12) }
  const env = { ...HOLD, REDIS_KEY_PREFIX: `nc${++prefixes}:` }
  const app = (await brokerFor(stub, { redis, env, deps: { clock: () => clock.now } })).app
  t.after(() => app.close())
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  const reads = async () => Number(/cmdstat_hmget:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0)
  return { a: app, env, raw, reads, clock }
}

test('an entry older than ACCESS_CACHE_MS is checked against the store: the same grant serves again, a token changed unannounced does not', async (t) => {
  const { a, env, raw, reads, clock } = await clocked(t)
  await importGrant(a, 'renewed', { access_token: 'held-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(a, 'renewed'), 'held-at') // read and held
  const before = await reads()
  assert.equal(await tokenOf(a, 'renewed'), 'held-at')
  assert.equal(await reads(), before, 'a young entry answers without a store read')

  clock.now += 61_000 // past ACCESS_CACHE_MS: the store is read again and holds the same grant
  assert.equal(await tokenOf(a, 'renewed'), 'held-at')
  assert.ok((await reads()) > before, 'the old entry was checked against the store')

  // A different sealed token at the same version, written without a change message (as only a
  // hand edit could): held for the rest of ACCESS_CACHE_MS, then read, compared and served.
  const sealed = new KeyRing(parseKeyRingSpec(TEST_KEYS)).seal('renewed', 'at', 'swapped-at')
  await raw.hset(`${env.REDIS_KEY_PREFIX}{renewed}:grant`, 'at', sealed)
  assert.equal(await tokenOf(a, 'renewed'), 'held-at')
  clock.now += 61_000
  assert.equal(await tokenOf(a, 'renewed'), 'swapped-at')
  assert.equal(await tokenOf(a, 'renewed'), 'swapped-at')
})

test('an entry past half ACCESS_CACHE_MS is read again in the background: an account asked for often enough never waits on the store', async (t) => {
  const { a, env, raw, reads, clock } = await clocked(t)
  // Two round trips on the broker's own connection, one after the other: the second reply comes
  // in a later socket read than any reply sent before the first, so the background read's
  // handling has run by then. Two HMGETs of an absent account.
  const barrier = async () => {
    await a.storage.grants.getServingGrant('nobody')
    await a.storage.grants.getServingGrant('nobody')
  }
  await importGrant(a, 'ahead', { access_token: 'ahead-at', refresh_token: 'rt', expires_in: 3600 })
  assert.equal(await tokenOf(a, 'ahead'), 'ahead-at') // read and held

  clock.now += 20_000 // young: answered from the entry, nothing read
  let before = await reads()
  assert.equal(await tokenOf(a, 'ahead'), 'ahead-at')
  await barrier()
  assert.equal(await reads(), before + 2)

  clock.now += 25_000 // 45 s: past half the minute, answered from the entry, which is read again behind it
  before = await reads()
  const [first, second] = await Promise.all([tokenOf(a, 'ahead'), tokenOf(a, 'ahead')])
  assert.deepEqual([first, second], ['ahead-at', 'ahead-at'])
  await barrier()
  assert.equal(await reads(), before + 3, 'one background read')

  clock.now += 25_000 // 70 s after the first read, 25 s after the renewal: still answered from the entry
  before = await reads()
  assert.equal(await tokenOf(a, 'ahead'), 'ahead-at')
  assert.equal(await reads(), before, 'the renewed entry answers without a store read')

  // A different sealed token at the same version, unannounced: the next background read finds
  // it and replaces the entry; the request that caused that read still got the entry's token.
  const sealed = new KeyRing(parseKeyRingSpec(TEST_KEYS)).seal('ahead', 'at', 'swapped-at')
  await raw.hset(`${env.REDIS_KEY_PREFIX}{ahead}:grant`, 'at', sealed)
  clock.now += 10_000 // 35 s after the renewal
  assert.equal(await tokenOf(a, 'ahead'), 'ahead-at')
  await barrier()
  before = await reads()
  assert.equal(await tokenOf(a, 'ahead'), 'swapped-at')
  assert.equal(await reads(), before, 'the replaced entry answers without a store read')
  // Background reads answer no one: the issued-token counter counts the 7 answers only.
  assert.match(await a.metrics.registry.metrics(), /access_tokens_issued_total\{provider="[^"]+"\} 7\n/)
})
