import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'
import { strictRotation } from '../keys/strict-rotation.js'

let redis: RedisServer
let proxy: FaultProxy
let stub: StubProvider
let rotation: ReturnType<typeof strictRotation>
const apps: FastifyInstance[] = []

before(async () => {
  redis = await startRedis()
  proxy = await startFaultProxy({ port: redis.port })
  stub = await startStubProvider()
  rotation = strictRotation()
  stub.handle('/token', rotation.handler)
})
after(async () => {
  await Promise.all(apps.map((a) => a.close()))
  await proxy.close()
  await stub.close()
  await redis.dispose()
})

/** A broker that reaches Redis only through the proxy. */
async function broker() {
  const { app } = await brokerFor(stub, {
    redis: { url: `redis://127.0.0.1:${proxy.port}` },
    env: { REDIS_COMMAND_TIMEOUT_MS: '1000', PROACTIVE_REFRESH: 'false' },
  })
  apps.push(app)
  return app
}

const STORE_UNAVAILABLE = {
  statusCode: 503,
  code: 'STORE_UNAVAILABLE',
  error: 'Service Unavailable',
  message: 'The store is unavailable; try again later',
}

describe('Redis blackholed (accepts, never answers)', () => {
  test('reads: /readyz is 503 and the hot path 503 STORE_UNAVAILABLE; both recover when the network heals', async () => {
    const app = await broker()
    await importGrant(app, 'reads', { access_token: 'at-reads-0', refresh_token: 'rt-reads-0', expires_in: 3600 })
    proxy.set({ mode: 'blackhole' })
    try {
      const ready = await app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(ready.statusCode, 503)
      assert.deepEqual(ready.json(), { status: 'unavailable' })
      const res = await getAccess(app, 'reads')
      assert.equal(res.statusCode, 503)
      assert.deepEqual(res.json(), STORE_UNAVAILABLE)
    } finally {
      proxy.set({ mode: 'pass' })
    }
    const back = await waitFor('the hot path to answer again', async () => {
      const res = await getAccess(app, 'reads')
      return res.statusCode === 200 ? res : undefined
    })
    assert.equal(back.json().access_token, 'at-reads-0')
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  })

  test("during a refresh commit: the commit is retried and the provider's new token is committed once Redis is back", async () => {
    const app = await broker()
    await importGrant(app, 'commit', { access_token: 'at-commit-0', refresh_token: 'rt-commit-0', expires_in: 3600 })
    const held = rotation.hold('commit')
    const refresh = app.inject({ method: 'POST', url: '/tokens/commit/refresh', headers: bearer() })
    await held.arrived
    // The provider has rotated the refresh token the moment it answers: from now on the new one exists only in the broker.
    proxy.set({ mode: 'blackhole' })
    held.release()
    try {
      // A commit attempt, its command timeout, and at least one retry reach the blackhole.
      await waitFor('the commit to be retried into the blackhole', () => (proxy.heldFromClients >= 2 ? true : undefined), {
        timeoutMs: 12_000,
      })
    } finally {
      proxy.set({ mode: 'pass' })
    }
    const res = await refresh
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().access_token, 'at-commit-1')
    const read = await getAccess(app, 'commit')
    assert.equal(read.json().access_token, 'at-commit-1')
    // The rotated refresh token was stored: the next refresh presents it and the provider accepts it.
    const again = await app.inject({ method: 'POST', url: '/tokens/commit/refresh', headers: bearer() })
    assert.equal(again.statusCode, 200, again.body)
    assert.equal(again.json().access_token, 'at-commit-2')
    assert.deepEqual(rotation.rejected, [])
  })
})
