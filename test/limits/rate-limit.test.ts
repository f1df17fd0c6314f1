import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { bearer, testApp, testConfig } from '../helpers/app.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

let redis: RedisServer
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

async function instance(limits: string) {
  const { app } = await testApp({ redis, env: { REDIS_KEY_PREFIX: 'rl:', RATE_LIMIT_PER_MINUTE: limits } })
  return app
}

test('the limit is per caller and shared by every instance; 429 has the contract shape and Retry-After', async (t) => {
  const a = await instance('accounts:read=5,*=100')
  const b = await instance('accounts:read=5,*=100')
  t.after(() => Promise.all([a.close(), b.close()]))
  const alice = bearer({ sub: 'alice' })
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    statuses.push((await (i % 2 ? a : b).inject({ method: 'GET', url: '/accounts', headers: alice })).statusCode)
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429])
  const limited = await a.inject({ method: 'GET', url: '/accounts', headers: alice })
  assert.equal(limited.statusCode, 429)
  assert.deepEqual(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: 'Too many requests' })
  assert.match(String(limited.headers['retry-after']), /^\d+$/)
  assert.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)

  // Another caller, and another scope of the same caller, have their own budgets.
  assert.equal((await b.inject({ method: 'GET', url: '/accounts', headers: bearer({ sub: 'bob' }) })).statusCode, 200)
  assert.equal((await b.inject({ method: 'GET', url: '/tokens/x/access', headers: alice })).statusCode, 404)
  // Health, readiness and metrics are never limited.
  for (let i = 0; i < 10; i++) {
    for (const url of ['/healthz', '/readyz', '/metrics']) assert.equal((await a.inject({ method: 'GET', url })).statusCode, 200)
  }
})

test('RATE_LIMIT_PER_MINUTE=0 turns limiting off', async (t) => {
  const app = await instance('0')
  t.after(() => app.close())
  for (let i = 0; i < 30; i++) assert.equal((await app.inject({ method: 'GET', url: '/accounts', headers: bearer() })).statusCode, 200)
})

test('RATE_LIMIT_PER_MINUTE: a number, scope pairs, the default, and bad values', async () => {
  const { ConfigError } = await import('../../src/config.js')
  assert.deepEqual(testConfig().rateLimits, { '*': 600, 'tokens:read': 0 })
  assert.deepEqual(testConfig({ RATE_LIMIT_PER_MINUTE: '120' }).rateLimits, { '*': 120 })
  assert.deepEqual(testConfig({ RATE_LIMIT_PER_MINUTE: 'tokens:read=10,accounts:write=2' }).rateLimits, {
    '*': 0,
    'tokens:read': 10,
    'accounts:write': 2,
  })
  for (const bad of ['many', 'tokens:read', 'nope=3', 'tokens:read=-1', '1.5']) {
    assert.throws(
      () => testConfig({ RATE_LIMIT_PER_MINUTE: bad }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'RATE_LIMIT_PER_MINUTE',
      bad,
    )
  }
})

test('a route that admits several scopes limits by the strictest one the caller holds, not by the first listed', async (t) => {
  const app = await instance('tokens:read=0,accounts:read=3,*=100')
  t.after(() => app.close())
  // GET /accounts/:account admits tokens:read (unlimited) or accounts:read (3 a minute).
  const both = bearer({ sub: 'carol', scopes: ['tokens:read', 'accounts:read'] })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await app.inject({ method: 'GET', url: '/accounts/none', headers: both })).statusCode)
  assert.deepEqual(statuses, [404, 404, 404, 429, 429])
  // A caller admitted by tokens:read alone has that scope's (unlimited) budget.
  const reader = bearer({ sub: 'dave', scopes: ['tokens:read'] })
  for (let i = 0; i < 6; i++) assert.equal((await app.inject({ method: 'GET', url: '/accounts/none', headers: reader })).statusCode, 404)
})
