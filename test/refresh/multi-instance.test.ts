import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { TEST_JWT_SECRET, TEST_KEYS, bearer } from '../helpers/app.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { stubProvider, writeProvidersFile } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { gatedTokens, json, rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
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

/** Several broker instances on one Redis, each on a real listener. */
async function instances(n: number, prefix: string, env: Record<string, string> = {}) {
  const apps: FastifyInstance[] = []
  for (let i = 0; i < n; i++) {
    const { app } = await brokerFor(stub, { redis, env: { REDIS_KEY_PREFIX: prefix, ...env } })
    await app.listen({ port: 0, host: '127.0.0.1' })
    apps.push(app)
  }
  const urls = apps.map((a) => `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`)
  return { apps, urls, close: () => Promise.all(apps.map((a) => a.close())) }
}

const headers = bearer()

test('300 concurrent requests on 3 instances: exactly one refresh, one token for all', async (t) => {
  stub.requests.length = 0
  stub.handle('/token', rotatingTokens('multi-', { delayMs: 100 }))
  const cluster = await instances(3, 'mi1:')
  t.after(() => cluster.close())
  await importGrant(cluster.apps[0]!, 'shared', { access_token: 'old', refresh_token: 'rt-0', expires_in: 30 })

  const answers = await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      const res = await fetch(`${cluster.urls[i % 3]}/tokens/shared/access`, { headers })
      return { status: res.status, body: (await res.json()) as { access_token: string } }
    }),
  )
  assert.deepEqual(
    answers.filter((a) => a.status !== 200),
    [],
  )
  assert.deepEqual(new Set(answers.map((a) => a.body.access_token)), new Set(['multi-at-1']))
  assert.equal(stub.count('/token'), 1)
})

test('300 concurrent POST /refresh with the same rejected token on 3 instances: one refresh', async (t) => {
  stub.requests.length = 0
  stub.handle('/token', rotatingTokens('forced-', { delayMs: 100 }))
  const cluster = await instances(3, 'mi2:')
  t.after(() => cluster.close())
  await importGrant(cluster.apps[0]!, 'shared', { access_token: 'rejected-by-api', refresh_token: 'rt-0', expires_in: 3600 })

  const answers = await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      const res = await fetch(`${cluster.urls[i % 3]}/tokens/shared/refresh`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ rejected_token: 'rejected-by-api' }),
      })
      return { status: res.status, body: (await res.json()) as { access_token: string } }
    }),
  )
  assert.deepEqual(
    answers.filter((a) => a.status !== 200),
    [],
  )
  assert.deepEqual(new Set(answers.map((a) => a.body.access_token)), new Set(['forced-at-1']))
  assert.equal(stub.count('/token'), 1)
})

test('a holder that lost its lock cannot overwrite the newer grant: reuse is detected and the grant wiped', async (t) => {
  stub.requests.length = 0
  const provider = gatedTokens('fence-')
  stub.handle('/token', provider.handler)
  const cluster = await instances(2, 'mi3:')
  t.after(() => cluster.close())
  const [a, b] = cluster.apps as [FastifyInstance, FastifyInstance]
  await importGrant(a, 'fenced', { access_token: 'old', refresh_token: 'rt-0', expires_in: 30 })

  const slow = getAccess(a, 'fenced') // takes the lock, then waits at the provider
  await waitUntil('the first refresh to reach the provider', () => provider.calls() === 1)
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  assert.equal(await raw.del('mi3:{fenced}:lock'), 1) // the lock is lost (expiry under a pause, failover)

  const fast = await getAccess(b, 'fenced')
  assert.equal(fast.statusCode, 200)
  assert.equal(fast.json().access_token, 'fence-at-2')

  provider.release()
  const late = await slow
  assert.equal(late.statusCode, 409)
  assert.equal(late.json().code, 'REAUTHENTICATION_REQUIRED')
  const grant = await raw.hgetall('mi3:{fenced}:grant')
  assert.equal(grant.status, 'reauth_required')
  assert.equal(JSON.parse(grant.last_error!).code, 'TOKEN_REUSE_DETECTED')
  assert.equal(grant.at, undefined)
  assert.equal(grant.rt, undefined)
  assert.equal((await getAccess(b, 'fenced')).statusCode, 409)
  assert.equal(provider.calls(), 2)
})

test('an instance killed mid-refresh: the lock expires and another instance refreshes', async (t) => {
  stub.requests.length = 0
  let calls = 0
  stub.handle('/token', async (_req, res) => {
    const n = ++calls
    if (n === 1) return // the killed instance's call: never answered
    json(res, 200, { access_token: `after-kill-${n}`, refresh_token: `rt-${n}`, expires_in: 3600 })
  })
  const providersFile = writeProvidersFile({ stub: stubProvider(stub) })
  const env = {
    REDIS_URL: redis.url,
    ENCRYPTION_KEYS: TEST_KEYS,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    REDIS_KEY_PREFIX: 'mi4:',
    PROVIDERS_FILE: providersFile,
    REFRESH_LOCK_TTL_MS: '1000',
    PROVIDER_TIMEOUT_MS: '5000',
    PROACTIVE_REFRESH: 'false',
  }
  const victim = await spawnBroker(env)
  t.after(() => victim.kill('SIGKILL'))
  const cluster = await instances(1, 'mi4:', { REFRESH_LOCK_TTL_MS: '1000' })
  t.after(() => cluster.close())
  const survivor = cluster.apps[0]!
  await importGrant(survivor, 'crash', { access_token: 'old', refresh_token: 'rt-0', expires_in: 30 })

  const doomed = fetch(`${victim.url}/tokens/crash/access`, { headers }).catch(() => null)
  await waitUntil('the first refresh to reach the provider', () => calls === 1)
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  assert.ok(await raw.get('mi4:{crash}:lock'), 'the victim holds the lock')
  await victim.kill('SIGKILL')
  await doomed

  const res = await getAccess(survivor, 'crash')
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().access_token, 'after-kill-2')
  assert.equal(stub.requests[1]!.body.refresh_token, 'rt-0') // the grant was still there to use
  assert.equal((await raw.hgetall('mi4:{crash}:grant')).status, 'active')
})
