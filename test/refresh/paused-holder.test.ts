import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { TEST_JWT_SECRET, TEST_KEYS, bearer } from '../helpers/app.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { stubProvider, writeProvidersFile } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { gatedTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitUntil } from '../helpers/wait.js'

let redis: RedisServer
let stub: StubProvider
before(async () => { redis = await startRedis(); stub = await startStubProvider() })
after(async () => { await stub.close(); await redis.stop() })

test('a holder paused (SIGSTOP) past its lock cannot overwrite the newer grant: reuse is detected, the grant wiped', async (t) => {
  const provider = gatedTokens('paused-')
  stub.handle('/token', provider.handler)
  const prefix = 'pause:'
  const providersFile = writeProvidersFile({ stub: stubProvider(stub) })
  const paused = await spawnBroker({
    REDIS_URL: redis.url, ENCRYPTION_KEYS: TEST_KEYS, AUTH_JWT_SECRET: TEST_JWT_SECRET, REDIS_KEY_PREFIX: prefix,
    PROVIDERS_FILE: providersFile, REFRESH_LOCK_TTL_MS: '1000', PROVIDER_TIMEOUT_MS: '30000', PROACTIVE_REFRESH: 'false',
  })
  t.after(async () => { paused.child.kill('SIGCONT'); await paused.kill('SIGKILL') })
  const { app: other } = await brokerFor(stub, { redis, env: { REDIS_KEY_PREFIX: prefix, REFRESH_LOCK_TTL_MS: '1000' } })
  t.after(() => other.close())
  await importGrant(other, 'paused', { access_token: 'old', refresh_token: 'paused-rt-0', expires_in: 30 })
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())

  const late = fetch(`${paused.url}/tokens/paused/access`, { headers: bearer() })
  await waitUntil('the first refresh to reach the provider', () => provider.calls() === 1)
  paused.child.kill('SIGSTOP')
  await waitUntil('the paused holder\'s lock to expire', async () => (await raw.exists(`${prefix}{paused}:lock`)) === 0)

  const fresh = await getAccess(other, 'paused')
  assert.equal(fresh.statusCode, 200)
  assert.equal(fresh.json().access_token, 'paused-at-2')
  assert.equal(stub.requests[1]!.body.refresh_token, 'paused-rt-0', 'both refreshes used the same refresh token')

  provider.release()
  paused.child.kill('SIGCONT')
  const res = await late
  assert.equal(res.status, 409)
  assert.equal((await res.json() as { code: string }).code, 'REAUTHENTICATION_REQUIRED')
  const grant = await raw.hgetall(`${prefix}{paused}:grant`)
  assert.equal(grant.status, 'reauth_required')
  assert.equal(JSON.parse(grant.last_error!).code, 'TOKEN_REUSE_DETECTED')
  assert.equal(grant.at, undefined)
  assert.equal(grant.rt, undefined)
  assert.match(paused.output(), /refresh token reuse detected/)
  assert.ok(!paused.output().includes('paused-rt-'), 'no token in the paused instance\'s logs')
})
