/**
 * A template that declares a reuse grace window (Xero: 30 minutes) keeps the newer grant
 * when a holder that lost its lock comes back with a result from the same refresh token.
 * (Without a grace window the grant is wiped: test/refresh/multi-instance.test.ts.)
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { gatedTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
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

test('xero: a lost lock within the reuse grace window keeps the newer grant and hands it to the late caller', async (t) => {
  const provider = gatedTokens('xero-', 1800)
  stub.handle('/token', provider.handler)
  const prefix = 'grace1:'
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) {
    const { app } = await brokerFor(stub, {
      redis,
      env: { REDIS_KEY_PREFIX: prefix },
      provider: { template: 'xero', authorization_url: `${stub.url}/authorize`, token_url: `${stub.url}/token` },
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    apps.push(app)
    t.after(() => app.close())
  }
  const [a, b] = apps as [FastifyInstance, FastifyInstance]
  await importGrant(a, 'graced', { access_token: 'old', refresh_token: 'xero-rt-0', expires_in: 30 })

  const slow = getAccess(a, 'graced') // takes the lock, then waits at the provider
  await waitUntil('the provider call', () => provider.calls() === 1)
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  assert.equal(await raw.del(`${prefix}{graced}:lock`), 1) // the lock is lost (expiry under a pause, failover)

  const fast = await getAccess(b, 'graced')
  assert.equal(fast.statusCode, 200, fast.body)
  assert.equal(fast.json().access_token, 'xero-at-2')

  provider.release()
  const late = await slow
  assert.equal(late.statusCode, 200, late.body)
  assert.equal(late.json().access_token, 'xero-at-2', 'the late caller gets the newer token, not its own fenced-off one')
  assert.deepEqual(
    stub.requests.filter((r) => r.path === '/token').map((r) => r.body.refresh_token),
    ['xero-rt-0', 'xero-rt-0'],
  )

  const grant = await a.storage.grants.getGrant('graced')
  assert.equal(grant?.status, 'active')
  assert.equal(grant?.lastError, null)
  const meta = (await a.inject({ method: 'GET', url: '/accounts/graced', headers: bearer() })).json()
  assert.equal(meta.status, 'active')
  // The newer grant's refresh token is the one used next.
  const next = await a.inject({ method: 'POST', url: '/tokens/graced/refresh', headers: bearer() })
  assert.equal(next.statusCode, 200, next.body)
  assert.equal(next.json().access_token, 'xero-at-3')
  assert.equal(stub.requests.filter((r) => r.path === '/token')[2]!.body.refresh_token, 'xero-rt-2')
  // The reuse is still recorded.
  const metrics = (await a.inject({ method: 'GET', url: '/metrics' })).body
  assert.match(metrics, /refresh_token_reuse_detected_total\{[^}]*action="kept_newer"[^}]*\} 1/)
  assert.doesNotMatch(metrics, /refresh_token_reuse_detected_total\{[^}]*action="wiped"[^}]*\} [1-9]/)
})
