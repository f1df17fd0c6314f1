import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { bearer, testApp } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { stubProvider } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitUntil } from '../helpers/wait.js'

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

test('a mass expiry is worked through at the allowed concurrency, pass after pass, not one batch per interval', async (t) => {
  const own = await startStubProvider()
  t.after(() => own.close())
  own.handle('/token', rotatingTokens('mass-', { delayMs: 20, expiresIn: 3600 }))
  let now = Date.parse('2030-01-01T00:00:00Z')
  let grantsRead = 0
  const { app } = await testApp({
    providers: { stub: stubProvider(own) },
    redis,
    env: { REFRESH_SKEW_SECONDS: '60' },
    // An hour between idle passes: only passes that follow a backlog can get through 30 grants.
    deps: { clock: () => now, scheduler: { intervalMs: 3_600_000, batch: 10, perProviderConcurrency: 3, retryDelayMs: 1000 } },
    t,
    setup: (a) => {
      const grants = a.storage.grants
      const getGrants = grants.getGrants.bind(grants)
      grants.getGrants = (accounts: string[]) => {
        grantsRead += accounts.length
        return getGrants(accounts)
      }
    },
  })
  for (let i = 0; i < 30; i++) {
    assert.equal((await importGrant(app, `m${i}`, { access_token: `old-${i}`, refresh_token: `rt-${i}`, expires_in: 600 })).statusCode, 201)
  }
  now += 600_000 - 60_000 // every grant is due
  app.broker.scheduler.start()
  t.after(() => app.broker.scheduler.stop())
  await waitUntil('all 30 due grants refreshed', () => own.count('/token') >= 30, 60_000)
  await app.broker.scheduler.stop()
  assert.equal(own.count('/token'), 30, 'each grant refreshed once')
  assert.deepEqual(own.requests.map((r) => r.body.refresh_token).sort(), Array.from({ length: 30 }, (_, i) => `rt-${i}`).sort())
  assert.equal(own.maxInFlight, 3, "never more than the scheduler's share of the provider at once")
  // A pass after a freed slot reads about one grant, not a batch of 10 to start one of them.
  assert.ok(grantsRead <= 45, `grants read by the scheduler: ${grantsRead} for 30 refreshes`)
})

test('without a backlog the next pass comes when the next grant falls due, not an interval later', async (t) => {
  const own = await startStubProvider()
  t.after(() => own.close())
  own.handle('/token', rotatingTokens('soon-', { delayMs: 0, expiresIn: 3600 }))
  const { app } = await testApp({
    providers: { stub: stubProvider(own) },
    redis,
    // Skew 8 s (lead 1 s), so the import (12 s left) falls due 1–3 s from now; an hour between idle
    // passes, so only a pass timed to that due time refreshes it within the test.
    env: { REFRESH_SKEW_SECONDS: '8' },
    deps: { scheduler: { intervalMs: 3_600_000, batch: 10, retryDelayMs: 1000 } },
    t,
  })
  assert.equal((await importGrant(app, 'soon', { access_token: 'old', refresh_token: 'rt-soon', expires_in: 12 })).statusCode, 201)
  const imported = (await app.storage.grants.getServingGrant('soon'))?.version
  app.broker.scheduler.start()
  t.after(() => app.broker.scheduler.stop())
  await waitUntil('the grant refreshed at its due time', () => own.count('/token') === 1, 60_000)
  // The provider has answered; the refresh is committed a moment later (a busy machine can
  // stretch that moment past a read made right away, which would still see the old token).
  await waitUntil('the refresh committed', async () => (await app.storage.grants.getServingGrant('soon'))?.version !== imported)
  const res = await app.inject({ method: 'GET', url: '/tokens/soon/access', headers: bearer() })
  assert.equal(res.json().access_token, 'soon-at-1')
  assert.equal(own.count('/token'), 1)
})
