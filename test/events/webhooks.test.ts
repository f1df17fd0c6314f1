import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { keySpace } from '../../src/store/keys.js'
import { RedisWebhookQueue } from '../../src/store/redis-webhook-queue.js'
import { signWebhook, verifyWebhookSignature } from '../../src/events/webhook-signature.js'
import type { WebhookWorkerOptions } from '../../src/events/webhook-worker.js'
import { createRedisClient } from '../../src/store/redis-client.js'
import type { TestApp } from '../helpers/app.js'

import { brokerFor } from '../helpers/brokers.js'
import { startRedis } from '../helpers/redis-server.js'
import { startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { realTimePassed, waitFor } from '../helpers/wait.js'
import { Secrets, access, importAccount, link, reuse, scriptedProvider } from './scenario.js'
import { WEBHOOK_SECRET, assertNoSecrets, startReceiver, type Receiver } from './support.js'

/** A delivered webhook body, as the contract describes it. */
interface WebhookBody {
  id: string
  delivery_id: string
  type: string
  created_at: string
  data: { account: string | null; provider: string | null; outcome: string | null; detail: string | null }
}

const redis = await startRedis()
after(() => redis.dispose())

/** Retries within milliseconds, so tests wait on deliveries, not on backoff. */
const FAST: Partial<WebhookWorkerOptions> = { backoffBaseMs: 10, backoffMaxMs: 40, intervalMs: 20 }

/** A broker with the stub provider and webhooks to `urls`; `prefix` picks the Redis key space (redis store). */
function broker(
  stub: StubProvider,
  urls: string[],
  o: { prefix?: string; webhooks?: Partial<WebhookWorkerOptions> } = {},
): Promise<TestApp> {
  return brokerFor(stub, {
    ...(o.prefix ? { redis } : {}),
    env: { WEBHOOK_URLS: urls.join(','), WEBHOOK_SECRET, ...(o.prefix ? { REDIS_KEY_PREFIX: o.prefix } : {}) },
    deps: { webhooks: { ...FAST, ...o.webhooks } },
  })
}

/** Ticks the app's worker until `done` holds (each tick delivers whatever is due). */
async function deliverUntil(app: FastifyInstance, what: string, done: () => boolean, timeoutMs = 10_000) {
  await waitFor(
    what,
    async () => {
      await app.webhooks!.tick()
      return done() ? true : undefined
    },
    { timeoutMs, intervalMs: 10 },
  )
}

const header = (d: { headers: Record<string, unknown> }, name: string) => d.headers[name] as string

test('signatures: HMAC-SHA256 over "timestamp.body"; any change, another secret or an old timestamp fails', () => {
  const now = Date.now()
  const ts = String(Math.floor(now / 1000))
  const body = '{"id":"e1","type":"account.revoked"}'
  const signature = signWebhook(WEBHOOK_SECRET, ts, body)
  assert.match(signature, /^v1=[0-9a-f]{64}$/)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, ts, body, signature), true)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, ts, body, `v1=${'0'.repeat(64)},${signature}`), true)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, ts, body.replace('revoked', 'linked'), signature), false)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, ts, body, signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0')), false)
  assert.equal(verifyWebhookSignature('another-secret-0123456789', ts, body, signature), false)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, String(Number(ts) + 1), body, signature), false)
  const old = String(Number(ts) - 600)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, old, body, signWebhook(WEBHOOK_SECRET, old, body)), false)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, old, body, signWebhook(WEBHOOK_SECRET, old, body), { toleranceSeconds: 3600 }), true)
  for (const bad of [undefined, '', 'abc', '1e9']) assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, bad, body, signature), false)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, ts, body, undefined), false)
  assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, ts, body, 'v1=short'), false)
})

for (const kind of ['memory', 'redis'] as const) {
  describe(`webhooks (${kind} store)`, () => {
    const prefix = () => (kind === 'redis' ? `wh${randomUUID()}:` : undefined)

    test('the five account events reach every receiver once, signed, with no token inside', async (t) => {
      const stub = await startStubProvider()
      const [one, two] = [await startReceiver(), await startReceiver()] as [Receiver, Receiver]
      const { app } = await broker(stub, [one.url, two.url], { prefix: prefix() })
      t.after(async () => {
        await app.close()
        await stub.close()
        await one.down()
        await two.down()
      })
      const secrets = new Secrets()
      const provider = scriptedProvider(stub, secrets)

      await link(app, secrets, 'acct-link') // account.linked (created)
      await importAccount(app, secrets, 'acct-dead', {
        access_token: secrets.token('at-dead'),
        refresh_token: secrets.token('rt-dead'),
        expires_in: 10,
      })
      assert.equal((await access(app, secrets, 'acct-dead')).statusCode, 409) // account.reauth_required
      await importAccount(app, secrets, 'acct-dead', { refresh_token: secrets.token('rt-new') }) // account.recovered
      await reuse(app, secrets, stub, 'acct-reuse', provider.open) // account.reuse_detected, account.reauth_required
      assert.equal((await app.inject({ method: 'DELETE', url: '/tokens/acct-link', headers: secrets.caller() })).statusCode, 200) // account.revoked
      // A denied consent changes nothing: audited, not sent.
      const started = await app.inject({
        method: 'POST',
        url: '/connect/stub',
        headers: secrets.caller(),
        payload: { account: 'acct-denied' },
      })
      const state = secrets.add(started.json().state)
      assert.equal((await app.inject({ method: 'GET', url: `/connect/callback?state=${state}&error=access_denied` })).statusCode, 400)

      await deliverUntil(app, 'six deliveries at each receiver', () => one.accepted().length >= 6 && two.accepted().length >= 6)
      for (let i = 0; i < 3; i++) await app.webhooks!.tick()
      assert.equal(await app.webhooks!.backlog(), 0)
      for (const receiver of [one, two]) {
        assert.equal(receiver.requests.length, 6, 'each delivered once, none retried')
        const bodies = receiver.accepted().map((d) => JSON.parse(d.body) as WebhookBody)
        const got = bodies.map((b) => [b.type, b.data.account, b.data.outcome, b.data.detail]).sort()
        assert.deepEqual(
          got,
          [
            ['account.linked', 'acct-link', 'created', null],
            ['account.reauth_required', 'acct-dead', null, 'REFRESH_TOKEN_INVALID'],
            ['account.reauth_required', 'acct-reuse', null, 'TOKEN_REUSE_DETECTED'],
            ['account.recovered', 'acct-dead', 'imported', null],
            ['account.reuse_detected', 'acct-reuse', 'wiped', null],
            ['account.revoked', 'acct-link', 'not_supported', null],
          ].sort(),
        )
        for (const [i, d] of receiver.accepted().entries()) {
          const body = bodies[i]!
          assert.deepEqual(Object.keys(body).sort(), ['created_at', 'data', 'delivery_id', 'id', 'type'])
          assert.equal(body.delivery_id, header(d, 'x-token-broker-delivery'), 'the delivery id is inside the signed body')
          assert.deepEqual(Object.keys(body.data).sort(), ['account', 'detail', 'outcome', 'provider'])
          assert.equal(body.data.provider, 'stub')
          assert.ok(Math.abs(Date.parse(body.created_at) - Date.now()) < 60_000)
          assert.equal(d.verified, true)
          assert.equal(header(d, 'content-type'), 'application/json')
          assert.equal(header(d, 'x-token-broker-event'), body.type)
          assert.match(header(d, 'x-token-broker-delivery'), /^[0-9a-f-]{36}$/)
          assert.match(header(d, 'x-token-broker-timestamp'), /^\d+$/)
          assert.equal(header(d, 'x-token-broker-signature'), signWebhook(WEBHOOK_SECRET, header(d, 'x-token-broker-timestamp'), d.body))
          // Tampering with the body or the signature is caught by the receiver's check.
          const ts = header(d, 'x-token-broker-timestamp')
          assert.equal(
            verifyWebhookSignature(WEBHOOK_SECRET, ts, d.body.replace('"stub"', '"evil"'), header(d, 'x-token-broker-signature')),
            false,
          )
          assert.equal(
            verifyWebhookSignature(
              WEBHOOK_SECRET,
              ts,
              d.body,
              header(d, 'x-token-broker-signature').replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')),
            ),
            false,
          )
        }
        assertNoSecrets(receiver.requests.map((r) => r.body + JSON.stringify(r.headers)).join('\n'), secrets.values, 'webhook requests')
      }
      // One event id for both receivers; one delivery id per receiver.
      const ids = (r: Receiver) =>
        r
          .accepted()
          .map((d) => JSON.parse(d.body).id as string)
          .sort()
      assert.deepEqual(ids(one), ids(two))
      const deliveries = [...one.accepted(), ...two.accepted()].map((d) => header(d, 'x-token-broker-delivery'))
      assert.equal(new Set(deliveries).size, 12)
    })

    test('a receiver that fails its first two attempts gets the event exactly once, after retries', async (t) => {
      const stub = await startStubProvider()
      const receiver = await startReceiver({ failFirst: 2 })
      const url = `${receiver.url}/path-secret-0123456789`
      const { app, logs } = await broker(stub, [url], { prefix: prefix() })
      t.after(async () => {
        await app.close()
        await stub.close()
        await receiver.down()
      })
      const secrets = new Secrets()
      scriptedProvider(stub, secrets)
      await link(app, secrets, 'acct-retry')

      await deliverUntil(app, 'the delivery after two failures', () => receiver.accepted().length === 1)
      assert.deepEqual(
        receiver.requests.map((r) => r.status),
        [500, 500, 204],
      )
      const deliveryIds = new Set(receiver.requests.map((r) => header(r, 'x-token-broker-delivery')))
      assert.equal(deliveryIds.size, 1, 'every attempt is the same delivery')
      assert.equal(new Set(receiver.requests.map((r) => r.body)).size, 1, 'every attempt sends the same body')
      for (let i = 0; i < 5; i++) await app.webhooks!.tick()
      assert.equal(receiver.requests.length, 3)
      assert.equal(await app.webhooks!.backlog(), 0)
      const warnings = logs.lines.filter((l) => l.includes('webhook delivery failed'))
      assert.equal(warnings.length, 2)
      assert.ok(!logs.text.includes('path-secret'), 'logs name the receiver by origin only')
      assert.match(warnings[0]!, /"failure":"status 500"/)
    })

    test('a receiver that never takes it: the delivery is dropped after maxAttempts, with an error log', async (t) => {
      const stub = await startStubProvider()
      const receiver = await startReceiver({ failFirst: 1000 })
      const { app, logs } = await broker(stub, [receiver.url], { prefix: prefix(), webhooks: { maxAttempts: 3 } })
      t.after(async () => {
        await app.close()
        await stub.close()
        await receiver.down()
      })
      const secrets = new Secrets()
      scriptedProvider(stub, secrets)
      await link(app, secrets, 'acct-drop')
      await deliverUntil(app, 'the drop', () => logs.text.includes('webhook dropped'))
      assert.equal(receiver.requests.length, 3)
      assert.equal(await app.webhooks!.backlog(), 0)
      const dropped = JSON.parse(logs.lines.find((l) => l.includes('webhook dropped'))!)
      assert.equal(dropped.level, 50)
      assert.equal(dropped.event, 'account.linked')
      assert.equal(dropped.attempt, 3)
      assert.ok(!logs.text.includes('created_at'), 'no payload in the logs')
      assertNoSecrets(logs.text, secrets.values, 'the logs')
    })

    test('start() delivers on its own; stop() (which close() calls) stops it', async (t) => {
      const stub = await startStubProvider()
      const receiver = await startReceiver()
      const { app } = await broker(stub, [receiver.url], { prefix: prefix() })
      t.after(async () => {
        await app.close()
        await stub.close()
        await receiver.down()
      })
      const secrets = new Secrets()
      scriptedProvider(stub, secrets)
      app.webhooks!.start()
      await link(app, secrets, 'acct-auto')
      await waitFor('the delivery', () => (receiver.accepted().length === 1 ? true : undefined))

      await app.webhooks!.stop()
      await link(app, secrets, 'acct-after-stop')
      await waitFor('the event to be queued', async () => ((await app.webhooks!.backlog()) === 1 ? true : undefined))
      const queuedAt = Date.now()
      // Nothing to wait on: the point is that nothing happens. A running worker polls every
      // 20 ms here, so half a second of real time is 25 rounds it would have had.
      await realTimePassed(queuedAt, 500)
      assert.equal(receiver.requests.length, 1, 'the stopped worker sent nothing')
      assert.equal(await app.webhooks!.backlog(), 1)
      await deliverUntil(app, 'the queued delivery, by hand', () => receiver.accepted().length === 2)
    })
  })
}

describe('webhooks survive a broker restart (redis store)', () => {
  test('queued while the receiver is down, delivered by the next broker once it is back', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    const receiver = await startReceiver()
    await receiver.down()
    const prefix = `whr${randomUUID()}:`
    const secrets = new Secrets()
    scriptedProvider(stub, secrets)

    const first = await broker(stub, [receiver.url], { prefix })
    await link(first.app, secrets, 'acct-restart')
    await waitFor('the failed attempt', async () => ((await first.app.webhooks!.tick()).retried === 1 ? true : undefined))
    assert.match(first.logs.text, /"failure":"network error"/)
    await first.app.close()

    await receiver.up()
    t.after(() => receiver.down())
    const second = await broker(stub, [receiver.url], { prefix })
    t.after(() => second.app.close())
    assert.equal(await second.app.webhooks!.backlog(), 1)
    await deliverUntil(second.app, 'the delivery after the restart', () => receiver.accepted().length === 1)
    const body = JSON.parse(receiver.accepted()[0]!.body)
    assert.equal(body.type, 'account.linked')
    assert.equal(body.data.account, 'acct-restart')
    assert.equal(await second.app.webhooks!.backlog(), 0)
    assertNoSecrets(receiver.requests.map((r) => r.body).join('\n'), secrets.values, 'webhook bodies')
  })

  test('a delivery claimed by a worker that died comes back after its lease', async (t) => {
    const stub = await startStubProvider()
    const receiver = await startReceiver()
    const prefix = `whl${randomUUID()}:`
    const { app } = await broker(stub, [receiver.url], { prefix })
    t.after(async () => {
      await app.close()
      await stub.close()
      await receiver.down()
    })
    const secrets = new Secrets()
    scriptedProvider(stub, secrets)
    await link(app, secrets, 'acct-lease')
    await waitFor('the job', async () => ((await app.webhooks!.backlog()) === 1 ? true : undefined))

    // Another instance claims it and dies before delivering.
    const client = createRedisClient({ kind: 'standalone', url: redis.url }, 2000)
    await client.connect()
    t.after(() => client.quit())
    const claimed = await new RedisWebhookQueue(client, keySpace(prefix)).claim(Date.now(), 10, 3_000)
    assert.equal(claimed.length, 1)
    const leasedUntil = Date.now() + 3_000
    assert.deepEqual(await app.webhooks!.tick(), { delivered: 0, retried: 0, dropped: 0 })
    await deliverUntil(app, 'the delivery after the lease', () => receiver.accepted().length === 1)
    assert.ok(Date.now() >= leasedUntil - 5)
    assert.equal(header(receiver.accepted()[0]!, 'x-token-broker-delivery'), claimed[0]!.id)
  })
})
