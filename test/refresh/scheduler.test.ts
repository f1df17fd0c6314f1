import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { bearer, testApp } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { stubProvider } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'

let redis: RedisServer
let stub: StubProvider
before(async () => { redis = await startRedis(); stub = await startStubProvider() })
after(async () => { await stub.close(); await redis.stop() })

test('the scheduler refreshes due grants before they expire, within the per-provider cap', async (t) => {
  stub.handle('/token', rotatingTokens('sched-', { delayMs: 30, expiresIn: 3600 }))
  let now = Date.parse('2030-01-01T00:00:00Z')
  const { app } = await testApp({
    providers: { stub: stubProvider(stub) },
    redis,
    env: { REFRESH_SKEW_SECONDS: '60' },
    deps: { clock: () => now, scheduler: { intervalMs: 1000, batch: 50, perProviderConcurrency: 2, retryDelayMs: 1000 } },
    t,
  })

  for (let i = 0; i < 6; i++) {
    assert.equal((await importGrant(app, `s${i}`, { access_token: `old-${i}`, refresh_token: `rt-${i}`, expires_in: 600 })).statusCode, 201)
  }
  await importGrant(app, 'forever', { access_token: 'no-expiry', refresh_token: 'rt' })

  await app.broker.scheduler.tick()
  assert.equal(stub.count('/token'), 0, 'nothing is due yet')

  now += 600_000 - 60_000 // one skew before expiry: every grant is due
  for (let tick = 0; tick < 3; tick++) await app.broker.scheduler.tick()
  assert.equal(stub.count('/token'), 6)
  assert.equal(stub.maxInFlight, 2)
  const sentTokens = stub.requests.map((r) => r.body.refresh_token).sort()
  assert.deepEqual(sentTokens, ['rt-0', 'rt-1', 'rt-2', 'rt-3', 'rt-4', 'rt-5'])

  // Callers now get fresh tokens without waiting on the provider, and before the old ones expired.
  for (let i = 0; i < 6; i++) {
    const res = await app.inject({ method: 'GET', url: `/tokens/s${i}/access`, headers: bearer() })
    assert.match(res.json().access_token, /^sched-at-\d$/)
  }
  assert.equal(stub.count('/token'), 6)
  await app.broker.scheduler.tick()
  assert.equal(stub.count('/token'), 6, 'refreshed grants are not due again')
})
