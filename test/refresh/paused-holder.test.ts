import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { TEST_JWT_SECRET, TEST_KEYS, bearer } from '../helpers/app.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { stubProvider, writeProvidersFile } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { gatedTokens, json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
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

test('a holder paused (SIGSTOP) past its lock cannot overwrite the newer grant: reuse is detected, the grant wiped', async (t) => {
  const provider = gatedTokens('paused-')
  stub.handle('/token', provider.handler)
  const prefix = 'pause:'
  const providersFile = writeProvidersFile({ stub: stubProvider(stub) })
  const paused = await spawnBroker({
    REDIS_URL: redis.url,
    ENCRYPTION_KEYS: TEST_KEYS,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    REDIS_KEY_PREFIX: prefix,
    PROVIDERS_FILE: providersFile,
    REFRESH_LOCK_TTL_MS: '1000',
    PROVIDER_TIMEOUT_MS: '30000',
    PROACTIVE_REFRESH: 'false',
  })
  t.after(async () => {
    paused.child.kill('SIGCONT')
    await paused.kill('SIGKILL')
  })
  const { app: other } = await brokerFor(stub, { redis, env: { REDIS_KEY_PREFIX: prefix, REFRESH_LOCK_TTL_MS: '1000' } })
  t.after(() => other.close())
  await importGrant(other, 'paused', { access_token: 'old', refresh_token: 'paused-rt-0', expires_in: 30 })
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())

  const late = fetch(`${paused.url}/tokens/paused/access`, { headers: bearer() })
  await waitUntil('the first refresh to reach the provider', () => provider.calls() === 1)
  paused.child.kill('SIGSTOP')
  await waitUntil("the paused holder's lock to expire", async () => (await raw.exists(`${prefix}{paused}:lock`)) === 0)

  const fresh = await getAccess(other, 'paused')
  assert.equal(fresh.statusCode, 200)
  assert.equal(fresh.json().access_token, 'paused-at-2')
  assert.equal(stub.requests[1]!.body.refresh_token, 'paused-rt-0', 'both refreshes used the same refresh token')

  provider.release()
  paused.child.kill('SIGCONT')
  const res = await late
  assert.equal(res.status, 409)
  assert.equal(((await res.json()) as { code: string }).code, 'REAUTHENTICATION_REQUIRED')
  const grant = await raw.hgetall(`${prefix}{paused}:grant`)
  assert.equal(grant.status, 'reauth_required')
  assert.equal(JSON.parse(grant.last_error!).code, 'TOKEN_REUSE_DETECTED')
  assert.equal(grant.at, undefined)
  assert.equal(grant.rt, undefined)
  // The process writes its log asynchronously: the line may follow the answer.
  await waitUntil("the reuse warning in the paused instance's log", () => /refresh token reuse detected/.test(paused.output()))
  assert.ok(!paused.output().includes('paused-rt-'), "no token in the paused instance's logs")
})

test('a holder whose lock expired while it queued for a provider slot does not present the refresh token: it waits for the new holder', async (t) => {
  let releaseSlot!: () => void
  const slotTaken = new Promise<void>((resolve) => {
    releaseSlot = resolve
  })
  stub.handle('/token', async (req, res) => {
    const token = req.body.refresh_token ?? ''
    if (token === 'slot-rt-0') await slotTaken
    json(res, 200, { access_token: token.replace('-rt-0', '-at-1'), refresh_token: token.replace('-rt-0', '-rt-1'), expires_in: 3600 })
  })
  const env = { REDIS_KEY_PREFIX: 'starved:', PROVIDER_CONCURRENCY: '1', REFRESH_LOCK_TTL_MS: '1000', PROACTIVE_REFRESH: 'false' }
  const { app: starved, logs } = await brokerFor(stub, { redis, env })
  const { app: other } = await brokerFor(stub, { redis, env })
  t.after(() => Promise.all([starved.close(), other.close()]))
  for (const account of ['slot', 'late'])
    await importGrant(other, account, { access_token: `${account}-at-0`, refresh_token: `${account}-rt-0`, expires_in: 3600 })
  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  const refresh = (app: typeof other, account: string) =>
    app.inject({ method: 'POST', url: `/tokens/${account}/refresh`, headers: bearer() })
  const calls = (token: string) => stub.requests.filter((r) => r.body.refresh_token === token).length

  const slot = refresh(starved, 'slot') // holds the instance's only provider slot
  await waitUntil('the first refresh at the provider', () => calls('slot-rt-0') === 1)
  const late = refresh(starved, 'late') // takes its lock, then queues for the slot
  await waitUntil('the queued refresh to hold its lock', async () => (await raw.exists('starved:{late}:lock')) === 1)
  await raw.del('starved:{late}:lock') // the lock is lost, as it expires under a long pause
  await waitUntil('the holder to notice', () => logs.text.includes('refresh lock lost before the refresh finished'))

  const meanwhile = await refresh(other, 'late')
  assert.equal(meanwhile.statusCode, 200, meanwhile.body)
  assert.equal(meanwhile.json().access_token, 'late-at-1')

  releaseSlot()
  assert.equal((await slot).statusCode, 200)
  const answer = await late
  assert.equal(answer.statusCode, 200, answer.body)
  assert.equal(answer.json().access_token, 'late-at-1', "the new holder's token")
  assert.equal(calls('late-rt-0'), 1, 'the refresh token was presented once, by the new holder')
  assert.match(logs.text, /refresh lock lost before the provider call/)
})
