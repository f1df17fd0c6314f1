import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { bearer, type TestApp } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, withConnection, type RedisServer } from '../helpers/redis-server.js'
import { json, startStubProvider } from '../helpers/stub-provider.js'

let redis: RedisServer
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

const T0 = Date.parse('2030-01-01T00:00:00Z')
const YEAR_S = 365 * 86_400

async function setup(t: { after(fn: () => Promise<unknown>): void }, provider: Record<string, unknown> = {}) {
  const stub = await startStubProvider()
  let now = T0
  const prefix = `life${randomUUID()}:`
  const broker: TestApp = await brokerFor(stub, { redis, env: { REDIS_KEY_PREFIX: prefix }, deps: { clock: () => now }, provider })
  t.after(async () => {
    await broker.app.close()
    await stub.close()
  })
  return {
    ...broker,
    stub,
    prefix,
    advance: (ms: number) => {
      now += ms
    },
    now: () => now,
  }
}

const meta = async (app: FastifyInstance, account: string) =>
  (await app.inject({ method: 'GET', url: `/accounts/${account}`, headers: bearer() })).json()

describe('absurd lifetimes are sanitized where they enter', () => {
  test('from the provider: zero, negative or unparseable is expired now; a fraction rounds up; above a year is clamped', async (t) => {
    const { app, stub, logs, now, advance } = await setup(t)
    const lifetimes: unknown[] = [0, -5, 'soon', 0.5, 1e12, 'Infinity']
    let n = 0
    stub.handle('/token', (_req, res) => json(res, 200, { access_token: `at-${++n}`, expires_in: lifetimes[n - 1], token_type: 'Bearer' }))
    await importGrant(app, 'odd', { access_token: 'x', refresh_token: 'rt', expires_at: new Date(T0 - 1000).toISOString() })

    const zero = await getAccess(app, 'odd')
    assert.deepEqual([zero.json().access_token, zero.json().expires_in, zero.json().expires_at], ['at-1', 0, new Date(now()).toISOString()])
    // Expired now, so refreshed on the next use (not served forever as "no expiry").
    assert.equal((await getAccess(app, 'odd')).json().access_token, 'at-2')
    assert.equal((await meta(app, 'odd')).expires_at, new Date(now()).toISOString(), 'a negative lifetime: expired now')
    assert.equal((await getAccess(app, 'odd')).json().access_token, 'at-3')
    const fraction = await getAccess(app, 'odd')
    assert.deepEqual([fraction.json().access_token, fraction.json().expires_in], ['at-4', 1], 'half a second is one')
    advance(1000)
    const clamped = await getAccess(app, 'odd')
    assert.deepEqual([clamped.json().access_token, clamped.json().expires_in], ['at-5', YEAR_S])
    assert.equal(stub.count('/token'), 5)

    const warnings = logs.lines
      .map((l) => JSON.parse(l) as { msg: string; anomaly?: string; provider?: string })
      .filter((l) => l.anomaly !== undefined)
    assert.deepEqual(
      warnings.map((w) => w.anomaly),
      ['not_positive', 'not_a_number', 'too_long'],
      'logged once per provider and kind',
    )
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(metrics, /token_lifetime_anomalies_total\{provider="stub",anomaly="not_positive"\} 2/)
  })

  test('from an import: expires_at outside 1970-9999 is a 400 that stores nothing; above a year is clamped', async (t) => {
    const { app, now } = await setup(t)
    for (const expires_at of ['9999-12-31T23:59:59-00:01', '1969-12-31T23:59:59Z', '+010000-01-01T00:00:00Z']) {
      const res = await app.inject({
        method: 'PUT',
        url: '/accounts/far',
        headers: bearer(),
        payload: { provider: 'stub', access_token: 'at', expires_at },
      })
      assert.equal(res.statusCode, 400, `${expires_at}: ${res.body}`)
      assert.equal(res.json().code, 'VALIDATION_ERROR')
    }
    assert.equal((await app.inject({ method: 'GET', url: '/accounts/far', headers: bearer() })).statusCode, 404)
    const list = await app.inject({ method: 'GET', url: '/accounts', headers: bearer() })
    assert.deepEqual([list.statusCode, list.json().accounts], [200, []])

    await importGrant(app, 'late', { access_token: 'at', expires_at: '9999-12-31T23:59:59Z' })
    assert.equal((await meta(app, 'late')).expires_at, new Date(now() + YEAR_S * 1000).toISOString())
    await importGrant(app, 'zero', { access_token: 'at', refresh_token: 'rt', expires_in: 0 })
    assert.equal((await meta(app, 'zero')).expires_at, new Date(now()).toISOString(), 'zero: expired now')
  })

  test('a corrupt stored record never fails a list: it is reported and the rest of the page is served', async (t) => {
    const { app, prefix } = await setup(t)
    for (const id of ['a-ok', 'b-bad', 'c-ok']) await importGrant(app, id, { access_token: 'at', refresh_token: 'rt', expires_in: 600 })
    await withConnection(redis.port, (c) =>
      c.hset(`${prefix}{b-bad}:grant`, 'expires_at', '8e15', 'created_at', 'garbage', 'refreshed_at', '1e300', 'last_error', '{not json'),
    )
    const list = await app.inject({ method: 'GET', url: '/accounts', headers: bearer() })
    assert.equal(list.statusCode, 200, list.body)
    assert.deepEqual(
      list.json().accounts.map((a: { account: string }) => a.account),
      ['a-ok', 'b-bad', 'c-ok'],
    )
    const bad = await meta(app, 'b-bad')
    assert.deepEqual(
      [bad.expires_at, bad.last_refreshed_at, bad.last_error, bad.created_at],
      [null, null, null, '1970-01-01T00:00:00.000Z'],
    )
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(metrics, /corrupt_records_total 2/)
  })
})

describe('template lifetimes', () => {
  test('default_expires_in: a token response without expires_in still expires, and is refreshed', async (t) => {
    const { app, stub, advance } = await setup(t, { default_expires_in: 900 })
    let n = 0
    stub.handle('/token', (_req, res) => json(res, 200, { access_token: `d-${++n}`, token_type: 'Bearer' }))
    await importGrant(app, 'd', { access_token: 'x', refresh_token: 'rt', expires_at: new Date(T0 - 1).toISOString() })
    const first = await getAccess(app, 'd')
    assert.deepEqual([first.json().access_token, first.json().expires_in], ['d-1', 900])
    advance(900_000 - 300_000 + 1) // within the skew of the assumed expiry
    assert.equal((await getAccess(app, 'd')).json().access_token, 'd-2')
  })

  test('refresh_token_idle_ttl: the scheduler refreshes a grant left unused for half of it, once', async (t) => {
    const { app, stub, advance } = await setup(t, { refresh_token_idle_ttl: 100 * 86_400 })
    let n = 0
    stub.handle('/token', (_req, res) =>
      json(res, 200, { access_token: `idle-${++n}`, refresh_token: `idle-rt-${n}`, token_type: 'Bearer' }),
    )
    // A token without expiry would never be refreshed; the idle refresh token would then die at the provider.
    await importGrant(app, 'idle', { access_token: 'never-expires', refresh_token: 'rt-0' })
    await app.broker.scheduler.tick()
    advance(49 * 86_400_000)
    await app.broker.scheduler.tick()
    assert.equal(stub.count('/token'), 0, 'not yet: 49 of 50 days')
    advance(86_400_000 + 1)
    await app.broker.scheduler.tick()
    assert.equal(stub.count('/token'), 1)
    assert.equal(stub.requests[0]!.body.refresh_token, 'rt-0')
    await app.broker.scheduler.tick()
    assert.equal(stub.count('/token'), 1, 'the new refresh token starts a new idle window')
    advance(50 * 86_400_000 + 1)
    await app.broker.scheduler.tick()
    assert.equal(stub.count('/token'), 2)
    assert.equal(stub.requests[1]!.body.refresh_token, 'idle-rt-1')
    assert.equal((await getAccess(app, 'idle')).json().access_token, 'idle-2')
  })
})

describe('a lifetime counts from the request, not from when the answer was read', () => {
  test('an answer read 10 minutes late (a stalled process) expires as the provider meant: expires_in after the request', async (t) => {
    const { app, stub, now, advance } = await setup(t)
    let askedAt = 0
    stub.handle('/token', (_req, res) => {
      askedAt = now()
      advance(10 * 60_000) // the process stalls while the answer waits in its socket
      json(res, 200, { access_token: 'at-late', refresh_token: 'rt-2', expires_in: 3600, token_type: 'Bearer' })
    })
    await importGrant(app, 'late', { access_token: 'at-old', refresh_token: 'rt-1', expires_at: new Date(T0 - 1000).toISOString() })

    const answer = await getAccess(app, 'late')
    assert.equal(answer.json().access_token, 'at-late')
    const expiresAt = askedAt + 3600_000
    assert.equal(answer.json().expires_at, new Date(expiresAt).toISOString(), 'not ten minutes later')
    assert.equal(answer.json().expires_in, (expiresAt - now()) / 1000, 'what is left of it when handed out')
    assert.equal((await meta(app, 'late')).expires_at, new Date(expiresAt).toISOString())
    assert.equal((await meta(app, 'late')).last_refreshed_at, new Date(askedAt).toISOString())
  })
})
