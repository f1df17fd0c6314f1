import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRedisClient } from '../../src/store/redis-client.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { startRedis } from '../helpers/redis-server.js'
import { waitFor, waitUntil, within } from '../helpers/wait.js'

test('a store started while Redis is down serves and hears changes once Redis is back', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  await redis.stop()
  const store = new RedisStore(createRedisClient({ kind: 'standalone', url: redis.url }, 2_000), 'late:')
  const other = new RedisStore(createRedisClient({ kind: 'standalone', url: redis.url }, 2_000), 'late:')
  t.after(() => Promise.all([store.close(), other.close()]))
  await assert.rejects(store.connect())
  await assert.rejects(store.getGrant('x'), (e: { code?: string }) => e.code === 'STORE_UNAVAILABLE')

  const heard: [string, number][] = []
  store.onGrantChanged((account, version) => heard.push([account, version]))
  await redis.start()
  await other.connect()
  await waitFor(
    'the late store to answer again',
    async () =>
      await store.ping().then(
        () => true,
        () => undefined,
      ),
  )
  // Writes by another instance reach the late store's subscriber (it subscribed on its own).
  await waitUntil('a change to be heard', async () => {
    await other.writeGrant(
      'acct',
      {
        provider: 'p',
        grantId: 'g',
        scope: null,
        tokenType: 'Bearer',
        expiresAt: null,
        accessToken: 'sealed',
        refreshToken: null,
        meta: null,
        fromProvider: false,
        keepRefreshToken: false,
      },
      Date.now(),
    )
    return heard.some(([account]) => account === 'acct')
  })
  assert.ok(heard.every(([account]) => account === 'acct'))
})

test('closing a store while Redis is down does not hang', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const store = new RedisStore(createRedisClient({ kind: 'standalone', url: redis.url }, 2_000), 'close:')
  await store.connect()
  await redis.stop()
  await within('closing the store', store.close(), 10_000)
})
