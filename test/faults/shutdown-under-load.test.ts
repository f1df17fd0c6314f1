import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { TEST_JWT_SECRET, TEST_KEYS, bearer } from '../helpers/app.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { stubProvider, writeProvidersFile } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'

const IN_FLIGHT = 200

let redis: RedisServer
let stub: StubProvider
before(async () => {
  redis = await startRedis()
  stub = await startStubProvider()
})
after(async () => {
  await stub.close()
  await redis.dispose()
})

test(`SIGTERM with ${IN_FLIGHT} requests in flight, each refreshing at the provider: none is dropped, every refresh is committed`, async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  stub.handle('/token', async (req, res) => {
    await gate
    const account = /^rt-(.+)-0$/.exec(req.body.refresh_token ?? '')?.[1]
    if (!account) return json(res, 400, { error: 'invalid_grant' })
    json(res, 200, { access_token: `at-${account}-1`, refresh_token: `rt-${account}-1`, expires_in: 3600 })
  })
  const env = {
    REDIS_URL: redis.url,
    ENCRYPTION_KEYS: TEST_KEYS,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    REDIS_KEY_PREFIX: 'sdl:',
    PROVIDERS_FILE: writeProvidersFile({ stub: stubProvider(stub) }),
    PROACTIVE_REFRESH: 'false',
    PROVIDER_CONCURRENCY: String(IN_FLIGHT),
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  }
  const first = await spawnBroker(env)
  t.after(() => first.kill('SIGKILL'))
  const accounts = Array.from({ length: IN_FLIGHT }, (_, i) => `busy-${i}`)
  const headers = { ...bearer(), 'content-type': 'application/json' }
  const expired = new Date(Date.now() - 60_000).toISOString()
  for (const account of accounts) {
    const put = await fetch(`${first.url}/accounts/${account}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ provider: 'stub', access_token: `at-${account}-0`, refresh_token: `rt-${account}-0`, expires_at: expired }),
    })
    assert.equal(put.status, 201)
  }

  const requests = accounts.map((account) => fetch(`${first.url}/tokens/${account}/access`, { headers: bearer() }))
  // Every request is inside the broker, waiting on its own refresh at the provider.
  await waitFor(`${IN_FLIGHT} refreshes at the provider`, () => (stub.inFlight === IN_FLIGHT ? true : undefined), { timeoutMs: 30_000 })
  const exited = new Promise<number | null>((resolve) => first.child.once('exit', (code) => resolve(code)))
  first.child.kill('SIGTERM')
  await waitFor('the listener to close', () =>
    fetch(`${first.url}/healthz`).then(
      () => undefined,
      () => true,
    ),
  )
  release()

  const answers = await Promise.all(
    requests.map(async (request) => {
      const res = await request
      return { status: res.status, token: ((await res.json()) as { access_token?: string }).access_token }
    }),
  )
  assert.deepEqual(
    answers,
    accounts.map((account) => ({ status: 200, token: `at-${account}-1` })),
  )
  assert.equal(await exited, 0, first.output().slice(-2000))

  // Every refresh was committed before the process left: another instance serves the new tokens without a provider call.
  const calls = stub.count('/token')
  const second = await spawnBroker(env)
  t.after(() => second.kill('SIGKILL'))
  for (const account of accounts) {
    const res = await fetch(`${second.url}/tokens/${account}/access`, { headers: bearer() })
    assert.equal(res.status, 200)
    assert.equal(((await res.json()) as { access_token: string }).access_token, `at-${account}-1`)
  }
  assert.equal(stub.count('/token'), calls)
})
