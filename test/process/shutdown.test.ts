import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { TEST_JWT_SECRET, TEST_KEYS, bearer } from '../helpers/app.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { stubProvider, writeProvidersFile } from '../helpers/providers-file.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
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

test('SIGTERM: stop accepting, finish the in-flight request, close Redis, exit 0', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  stub.handle('/token', async (_req, res) => {
    await gate
    json(res, 200, { access_token: 'finished-after-sigterm', refresh_token: 'rt-1', expires_in: 3600 })
  })
  const providersFile = writeProvidersFile({ stub: stubProvider(stub) })
  const broker = await spawnBroker({
    REDIS_URL: redis.url,
    ENCRYPTION_KEYS: TEST_KEYS,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    REDIS_KEY_PREFIX: 'sd:',
    PROVIDERS_FILE: providersFile,
    PROACTIVE_REFRESH: 'false',
  })
  t.after(() => broker.kill('SIGKILL'))
  const headers = { ...bearer(), 'content-type': 'application/json' }
  const put = await fetch(`${broker.url}/accounts/busy`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ provider: 'stub', access_token: 'old', refresh_token: 'rt-0', expires_in: 5 }),
  })
  assert.equal(put.status, 201)

  const raw = new Redis(redis.url)
  t.after(() => raw.quit())
  const clientsBefore = Number(/connected_clients:(\d+)/.exec(await raw.info('clients'))![1])

  const inFlight = fetch(`${broker.url}/tokens/busy/access`, { headers: bearer() })
  await waitUntil('the refresh to reach the provider', () => stub.count('/token') === 1)
  const exited = new Promise<number | null>((resolve) => broker.child.once('exit', (code) => resolve(code)))
  broker.child.kill('SIGTERM')
  // New connections are refused once the listener is closed, while the request is still in flight.
  await waitUntil(
    'the listener to close',
    () =>
      fetch(`${broker.url}/healthz`).then(
        () => false,
        () => true,
      ),
    30_000,
  )
  release()
  const res = await inFlight
  assert.equal(res.status, 200)
  assert.equal(((await res.json()) as { access_token: string }).access_token, 'finished-after-sigterm')
  assert.equal(await exited, 0, broker.output().slice(-2000))
  assert.match(broker.output(), /"signal":"SIGTERM"/)
  // Lines written just before exit reach standard output: the in-flight request's access line.
  const lines = broker
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  assert.ok(
    lines.some((l) => l.msg === 'request' && l.route === '/tokens/:account/access' && l.statusCode === 200),
    broker.output().slice(-2000),
  )
  const clientsAfter = Number(/connected_clients:(\d+)/.exec(await raw.info('clients'))![1])
  assert.ok(clientsAfter < clientsBefore, 'the broker closed its Redis connections')
})
