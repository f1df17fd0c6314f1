import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { LEAD_MAX_MS, refreshDueAt } from '../../src/broker/refresh/policy.js'
import { memoryStorage } from '../../src/store/index.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import type { GrantRecord } from '../../src/store/store.js'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { json, rotatingTokens, startStubProvider, type StubHandler, type StubProvider } from '../helpers/stub-provider.js'
import { waitFor, waitUntil } from '../helpers/wait.js'

let redis: RedisServer
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

/** A clock the test moves by hand, shared by every instance. */
function fakeClock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let now = start
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms
    },
  }
}

/** `n` broker instances on one Redis key space, sharing the stub provider and a clock. */
async function brokers(
  t: { after(fn: () => Promise<unknown>): void },
  stub: StubProvider,
  n: number,
  clock?: () => number,
  env: Record<string, string> = {},
  provider: Record<string, unknown> = {},
) {
  const prefix = `pol${randomUUID()}:`
  const apps: FastifyInstance[] = []
  for (let i = 0; i < n; i++) {
    const { app } = await brokerFor(stub, { redis, env: { REDIS_KEY_PREFIX: prefix, ...env }, deps: { clock }, provider })
    apps.push(app)
  }
  t.after(() => Promise.all(apps.map((a) => a.close())))
  return apps
}

const refreshes = (stub: StubProvider) => stub.count('/token')

/** A memory store that counts grant reads. */
class ObservedStore extends MemoryStore {
  reads = 0
  override async getGrant(account: string) {
    const grant = await super.getGrant(account)
    this.reads++
    return grant
  }
}

describe("refresh timing is bounded by the token's lifetime", () => {
  test('tokens shorter-lived than the skew: one refresh per half-lifetime, whatever the request rate', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    stub.handle('/token', rotatingTokens('short-', { expiresIn: 120 })) // REFRESH_SKEW_SECONDS is 300
    const clock = fakeClock()
    const [a, b] = await brokers(t, stub, 2, clock.now)
    await importGrant(a!, 'short', { access_token: 'imported', refresh_token: 'rt-0', expires_in: 100 })
    // An imported token's lifetime is unknown: with 100 s left (under the skew) it is refreshed once.
    assert.equal((await getAccess(a!, 'short')).json().access_token, 'short-at-1')
    // 15 GETs over 45 s on two instances: the provider's 120 s token serves them all.
    for (let i = 0; i < 15; i++) {
      clock.advance(3000)
      const res = await getAccess(i % 2 ? a! : b!, 'short')
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().access_token, 'short-at-1')
    }
    assert.equal(refreshes(stub), 1)
    // Ten simulated minutes at one GET a second: a refresh each time half the lifetime (60 s) has passed.
    for (let s = 0; s < 600; s++) {
      clock.advance(1000)
      assert.equal((await getAccess(s % 2 ? a! : b!, 'short')).statusCode, 200)
    }
    assert.equal(refreshes(stub), 1 + 10)
  })

  test('min_ttl above what the provider issues: the just-obtained token is returned, one refresh per skew window', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    stub.handle('/token', rotatingTokens('ttl-', { expiresIn: 600 }))
    const clock = fakeClock()
    const [a, b] = await brokers(t, stub, 2, clock.now)
    await importGrant(a!, 'ttl', { access_token: 'imported', refresh_token: 'rt-0', expires_in: 3000 })
    // An imported token whose age is unknown is refreshed once when min_ttl asks for more than it has.
    const first = await getAccess(a!, 'ttl', '?min_ttl=3600')
    assert.deepEqual([first.json().access_token, first.json().expires_in], ['ttl-at-1', 600])
    for (let i = 0; i < 10; i++) {
      clock.advance(10_000)
      const res = await getAccess(i % 2 ? a! : b!, 'ttl', '?min_ttl=3600')
      assert.equal(res.json().access_token, 'ttl-at-1', 'the best the provider gives, not a new rotation')
      assert.equal(res.json().expires_in, 600 - 10 * (i + 1), 'expires_in says what the caller got')
    }
    assert.equal(refreshes(stub), 1)
    clock.advance(200_001) // 300 s since it was obtained: the skew window is over
    assert.equal((await getAccess(b!, 'ttl', '?min_ttl=3600')).json().access_token, 'ttl-at-2')
    assert.equal((await getAccess(a!, 'ttl', '?min_ttl=3600')).json().access_token, 'ttl-at-2')
    assert.equal(refreshes(stub), 2)
    // A forced refresh still refreshes.
    const forced = await a!.inject({ method: 'POST', url: '/tokens/ttl/refresh', headers: bearer() })
    assert.equal(forced.json().access_token, 'ttl-at-3')
    assert.equal(refreshes(stub), 3)
  })
})

describe('failures back off across instances', () => {
  test('a failing account with a valid token: one round per backoff step for all instances, the token served, status active', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    stub.handle('/token', (_req, res) => json(res, 503, { error: 'temporarily_unavailable' }))
    const clock = fakeClock()
    const apps = await brokers(t, stub, 3, clock.now)
    await importGrant(apps[0]!, 'flaky', { access_token: 'still-valid', refresh_token: 'rt', expires_in: 200 })
    for (let i = 0; i < 12; i++) {
      const res = await getAccess(apps[i % 3]!, 'flaky')
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().access_token, 'still-valid')
    }
    assert.equal(refreshes(stub), 3, 'one round of at most 3 attempts, shared by the three instances')
    const meta = (await apps[1]!.inject({ method: 'GET', url: '/accounts/flaky', headers: bearer() })).json()
    assert.equal(meta.status, 'active')
    assert.equal(meta.last_error.code, 'PROVIDER_UNAVAILABLE')

    clock.advance(1001) // the first backoff step is at most 1 s
    for (let i = 0; i < 12; i++) assert.equal((await getAccess(apps[i % 3]!, 'flaky')).statusCode, 200)
    assert.equal(refreshes(stub), 6, 'the next round, once, when retry_at passed')
    clock.advance(1001) // the second step is 1 to 2 s: not over yet for sure? it is at least 1 s
    for (let i = 0; i < 6; i++) await getAccess(apps[i % 3]!, 'flaky')
    assert.ok(refreshes(stub) <= 9)

    // Expired during the backoff: 503 with the remaining wait, without a provider call.
    stub.requests.length = 0
    clock.advance(200_000)
    const expired = await getAccess(apps[2]!, 'flaky')
    const calls = refreshes(stub)
    const again = await getAccess(apps[0]!, 'flaky')
    assert.equal(again.statusCode, 503)
    assert.equal(again.json().code, 'PROVIDER_UNAVAILABLE')
    assert.ok(Number(again.headers['retry-after']) >= 1)
    assert.equal(refreshes(stub), calls, 'no call during the backoff')
    assert.equal(expired.statusCode, 503)
  })

  test('the provider recovers: every instance serves tokens again, one refresh per account', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    let down = true
    const up = rotatingTokens('back-')
    stub.handle('/token', (req, res) => (down ? json(res, 503, {}) : up(req, res)))
    const apps = await brokers(t, stub, 2) // real time: the breaker and the backoff heal on their own
    const accounts = ['r1', 'r2', 'r3', 'r4']
    const expired = new Date(Date.now() - 1000).toISOString()
    for (const account of accounts)
      await importGrant(apps[0]!, account, { access_token: 'x', refresh_token: `rt-${account}`, expires_at: expired })
    for (const app of apps) for (const account of accounts) assert.equal((await getAccess(app, account)).statusCode, 503)
    down = false
    const callsWhileDown = refreshes(stub)
    const served = new Map<string, string>()
    for (const app of apps) {
      for (const account of accounts) {
        const res = await waitFor(
          `${account} to be served again`,
          async () => {
            const answer = await getAccess(app, account)
            return answer.statusCode === 503 ? undefined : answer
          },
          { timeoutMs: 30_000 },
        )
        assert.equal(res.statusCode, 200, res.body)
        if (served.has(account))
          assert.equal(res.json().access_token, served.get(account), `both instances serve ${account}'s one new token`)
        served.set(account, res.json().access_token)
      }
    }
    assert.equal(new Set(served.values()).size, accounts.length)
    assert.equal(refreshes(stub) - callsWhileDown, accounts.length, 'one refresh per account once the provider is back')
  })

  test("one account's failures do not stop refreshes of another account at the same provider", async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    const good = rotatingTokens('good-')
    stub.handle('/token', (req, res) => (req.body.refresh_token === 'rt-bad' ? json(res, 429, { error: 'rate_limited' }) : good(req, res)))
    const clock = fakeClock()
    const [app] = await brokers(t, stub, 1, clock.now)
    const expired = new Date(clock.now() - 1000).toISOString()
    await importGrant(app!, 'bad', { access_token: 'x', refresh_token: 'rt-bad', expires_at: expired })
    for (let round = 0; round < 4; round++) {
      assert.equal((await getAccess(app!, 'bad')).statusCode, 503)
      clock.advance(400_000) // past any backoff step
    }
    assert.equal(refreshes(stub), 12, 'four rounds of three attempts')
    await importGrant(app!, 'fine', { access_token: 'x', refresh_token: 'rt-fine', expires_at: new Date(clock.now() - 1000).toISOString() })
    const res = await getAccess(app!, 'fine')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().access_token, 'good-at-1')
  })
})

describe('outbound concurrency', () => {
  test('many expired accounts against a slow provider: concurrent calls never exceed PROVIDER_CONCURRENCY', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    stub.handle('/token', rotatingTokens('cap-', { delayMs: 200 }))
    const [app] = await brokers(t, stub, 1, undefined, { PROVIDER_CONCURRENCY: '4', PROVIDER_TIMEOUT_MS: '10000' })
    const expired = new Date(Date.now() - 1000).toISOString()
    const accounts = Array.from({ length: 40 }, (_, i) => `cap-${i}`)
    for (const account of accounts)
      await importGrant(app!, account, { access_token: 'x', refresh_token: `rt-${account}`, expires_at: expired })
    const answers = await Promise.all(accounts.map((account) => getAccess(app!, account)))
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      accounts.map(() => 200),
    )
    assert.equal(refreshes(stub), 40)
    assert.equal(stub.maxInFlight, 4)
  })
})

describe('single flight respects what each caller asked', () => {
  test('a forced refresh during a running refresh that fails gets 503, never the token it reported rejected', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const handler: StubHandler = async (_req, res) => {
      await gate
      json(res, 503, {})
    }
    stub.handle('/token', handler)
    // The forced request reads the grant, then joins the running refresh: its read is what shows it arrived.
    const store = new ObservedStore()
    const { app } = await brokerFor(stub, {
      deps: { storage: memoryStorage({ grants: store }) },
      env: { PROVIDER_TIMEOUT_MS: '20000', PROACTIVE_REFRESH: 'false' },
      t,
    })
    await importGrant(app, 'f', { access_token: 'rejected-by-api', refresh_token: 'rt', expires_in: 200 })
    const running = getAccess(app, 'f') // starts a refresh (under the skew), held at the provider
    await waitUntil('the refresh to reach the provider', () => stub.count('/token') === 1)
    const readsBefore = store.reads
    const forced = app.inject({
      method: 'POST',
      url: '/tokens/f/refresh',
      headers: bearer(),
      payload: { rejected_token: 'rejected-by-api' },
    })
    await waitUntil('the forced refresh to read the grant', () => store.reads > readsBefore)
    release()
    const [get, post] = await Promise.all([running, forced])
    assert.equal(get.statusCode, 200)
    assert.equal(get.json().access_token, 'rejected-by-api', 'a plain GET may have the still-valid token')
    assert.equal(post.statusCode, 503, post.body)
    assert.equal(post.json().code, 'PROVIDER_UNAVAILABLE')
    assert.ok(Number(post.headers['retry-after']) >= 1)
    assert.doesNotMatch(post.body, /rejected-by-api/)
  })
})

test('a proactive refresh falls due ahead of the request path threshold by a lead, whatever its jitter', () => {
  const expiresAt = Date.parse('2030-01-01T01:00:00Z')
  const grant = (fromProvider: boolean, lifetimeMs: number): GrantRecord => ({
    provider: 'acme',
    status: 'active',
    version: 1,
    grantId: randomUUID(),
    scope: null,
    tokenType: 'Bearer',
    createdAt: 0,
    updatedAt: 0,
    refreshedAt: null,
    expiresAt,
    issuedAt: expiresAt - lifetimeMs,
    fromProvider,
    retryAt: null,
    failures: 0,
    accessToken: 'sealed-at',
    refreshToken: 'sealed-rt',
    lastError: null,
    meta: null,
  })
  // The request path stops serving the stored token `skew` before expiry (the effective skew:
  // at most half a provider token's lifetime); the scheduler must start before that.
  const cases: [string, boolean, number, number][] = [
    ['imported, skew 60 s', false, 3_600_000, 60_000],
    ['from the provider, 1 h, skew 60 s', true, 3_600_000, 60_000],
    ['from the provider, 60 s, skew 60 s (30 s applies)', true, 60_000, 60_000],
    ['from the provider, 1 h, skew 8 s', true, 3_600_000, 8_000],
  ]
  for (const [what, fromProvider, lifetime, skewMs] of cases) {
    const skew = Math.min(skewMs, fromProvider ? lifetime / 2 : skewMs)
    const lead = Math.min(LEAD_MAX_MS, skew / 8)
    let earliest = Number.POSITIVE_INFINITY
    for (let i = 0; i < 2000; i++) {
      const g = grant(fromProvider, lifetime)
      const due = refreshDueAt(g, skewMs, null)!
      assert.ok(due <= expiresAt - skew - lead, `${what}: due ${expiresAt - due} ms before expiry, the threshold is ${skew} ms`)
      assert.ok(due > g.issuedAt!, `${what}: not before the token was obtained`)
      earliest = Math.min(earliest, due)
    }
    assert.ok(earliest < expiresAt - skew - lead - 1000, `${what}: the jitter spreads them`)
  }
})
