import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, test } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { TEST_JWT_SECRET, TEST_KEYS, bearer, callerToken } from '../helpers/app.js'
import { STORE_KINDS, storeApp } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { json, startStubProvider } from '../helpers/stub-provider.js'
import { waitFor, within } from '../helpers/wait.js'
import { assertError, auth, manualClock } from './support.js'

// Persisted (AOF), so the data outlives a stop/start of the server.
const redisFixture = new RedisFixture({ appendonly: true })
after(() => redisFixture.dispose())

const admin = bearer()
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

type LogLine = Record<string, unknown>
const parsed = (lines: string[]): LogLine[] => lines.map((l) => JSON.parse(l) as LogLine)

/** The value of an unlabelled counter in Prometheus text. */
function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  assert.ok(line, `${name} is exported`)
  return Number(line.split(' ')[1])
}

const metricsText = async (app: FastifyInstance) => {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  return res.body
}

describe('health', () => {
  test('/healthz is 200 {status: ok}', async (t) => {
    const { app } = await storeApp(t, 'memory', null)
    const res = await app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.deepEqual(res.json(), { status: 'ok' })
    assert.deepEqual(
      (await app.inject({ method: 'GET', url: '/readyz' })).json(),
      { status: 'ready' },
      'the embedded store is always ready',
    )
  })

  test('/readyz follows Redis; requests during the outage are 503 STORE_UNAVAILABLE at once, and counted', async (t) => {
    const f = await storeApp(t, 'redis', redisFixture)
    const { app } = f
    const redis = f.redis!
    t.after(() => redis.start()) // leave the shared server running whatever happens
    await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-survives', expires_in: 3600 })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    assert.equal(ready.statusCode, 200)
    assert.deepEqual(ready.json(), { status: 'ready' })
    const errorsBefore = counter(await metricsText(app), 'store_errors_total')

    await redis.stop()
    const down = await waitFor('/readyz to report the outage', async () => {
      const res = await app.inject({ method: 'GET', url: '/readyz' })
      return res.statusCode === 503 ? res : undefined
    })
    assert.deepEqual(down.json(), { status: 'unavailable' })
    assert.match(String(down.headers['content-type']), /^application\/json/)

    // Each of these fails fast (a hang would trip the deadline), in the contract's shape.
    const during = [
      { method: 'GET', url: '/tokens/crm-prod/access' },
      { method: 'GET', url: '/tokens/crm-prod/access?min_ttl=60' },
      { method: 'GET', url: '/accounts/crm-prod' },
      { method: 'GET', url: '/accounts' },
      { method: 'PUT', url: '/accounts/crm-prod', payload: { provider: 'acme', access_token: 'at-during', expires_in: 60 } },
    ] as const
    for (const req of during) {
      const res = await within(`${req.method} ${req.url} during the outage`, app.inject({ ...req, headers: admin }), 10_000)
      assertError(res, 503, 'STORE_UNAVAILABLE')
    }
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on the store')
    const metrics = await metricsText(app)
    assert.equal(counter(metrics, 'store_errors_total') - errorsBefore, during.length, 'every failed request is counted once')

    await redis.start()
    await waitFor('/readyz to recover', async () => {
      const res = await app.inject({ method: 'GET', url: '/readyz' })
      return res.statusCode === 200 ? res : undefined
    })
    const back = await waitFor('token reads to work again', async () => {
      const res = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })
      return res.statusCode === 200 ? res : undefined
    })
    assert.equal(back.json().access_token, 'at-survives', 'the grant outlived the outage')
    assert.equal(back.headers['cache-control'], 'no-store')
  })
})

describe('metrics', () => {
  test('request durations by route pattern (never the raw path or a token)', async (t) => {
    const { app } = await storeApp(t, 'memory', null)
    await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-metric-secret', expires_in: 3600 })
    await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })
    await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })
    await app.inject({ method: 'GET', url: '/accounts/nobody', headers: admin })
    await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })
    const text = await metricsText(app)
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m)
    assert.match(text, /^http_request_duration_seconds_count\{[^}]*route="\/accounts\/:account"[^}]*status_code="200"[^}]*\} 2$/m)
    assert.match(text, /^http_request_duration_seconds_count\{[^}]*route="\/accounts\/:account"[^}]*status_code="404"[^}]*\} 1$/m)
    assert.match(
      text,
      /^http_request_duration_seconds_bucket\{[^}]*le="\+Inf"[^}]*route="\/tokens\/:account\/access"|^http_request_duration_seconds_bucket\{[^}]*route="\/tokens\/:account\/access"[^}]*le="\+Inf"/m,
    )
    assert.match(text, /^store_errors_total 0$/m)
    assert.ok(!text.includes('crm-prod') && !text.includes('nobody'), 'no account id in any label')
    assert.ok(!text.includes('at-metric-secret'), 'no token in metrics')
  })
})

describe('request logs', () => {
  test('carry the route and status, never the query string', async (t) => {
    const { app, logs } = await storeApp(t, 'memory', null)
    await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-log', expires_in: 3600 })
    const res = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access?min_ttl=5&secret=zzz', headers: admin })
    assertError(res, 400, 'VALIDATION_ERROR')
    const ok = await app.inject({
      method: 'GET',
      url: '/tokens/crm-prod/access?min_ttl=5',
      headers: { ...admin, 'x-request-id': 'req-ok-1' },
    })
    assert.equal(ok.statusCode, 200)
    await app.inject({ method: 'GET', url: '/nope?secret=zzz&code=abc', headers: admin })

    const lines = parsed(logs.lines)
    const access = lines.filter((l) => l.route === '/tokens/:account/access')
    assert.ok(
      access.some((l) => l.statusCode === 400),
      `a 400 line for the route: ${logs.text}`,
    )
    const okLine = access.find((l) => l.statusCode === 200)
    assert.ok(okLine, 'a 200 line for the route')
    assert.equal(okLine.method, 'GET')
    assert.equal(okLine.reqId, 'req-ok-1')
    assert.equal(typeof okLine.ms, 'number')
    assert.ok(
      lines.some((l) => l.statusCode === 404),
      'the unknown route is logged',
    )
    for (const leaked of ['zzz', 'min_ttl=5', 'secret=', 'code=abc', '?']) {
      assert.ok(!lines.some((l) => JSON.stringify({ ...l, msg: undefined }).includes(leaked)), `"${leaked}" is not logged: ${logs.text}`)
    }
    assert.ok(!logs.text.includes('at-log'), 'the token is not logged')
  })

  test('x-request-id: a valid one is echoed and logged; an invalid one is replaced', async (t) => {
    const { app, logs } = await storeApp(t, 'memory', null)
    const given = await app.inject({ method: 'GET', url: '/accounts', headers: { 'x-request-id': 'trace-42.a:b_c-d' } })
    assert.equal(given.headers['x-request-id'], 'trace-42.a:b_c-d')
    assert.ok(parsed(logs.lines).some((l) => l.reqId === 'trace-42.a:b_c-d' && l.route === '/accounts'))
    // Probes are logged at debug only, so orchestrators do not flood the log at info.
    await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'probe-1' } })
    assert.ok(!parsed(logs.lines).some((l) => l.reqId === 'probe-1'))

    for (const bad of ['has space', 'semi;colon', '<script>', 'x'.repeat(129), '', 'quote"d']) {
      const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } })
      assert.match(String(res.headers['x-request-id']), UUID, `"${bad.slice(0, 20)}" is replaced`)
      if (bad.length > 0) assert.ok(!logs.text.includes(bad), `"${bad.slice(0, 20)}" is not logged`)
    }
    const a = await app.inject({ method: 'GET', url: '/healthz' })
    const b = await app.inject({ method: 'GET', url: '/healthz' })
    assert.match(String(a.headers['x-request-id']), UUID)
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id'])
    // error responses carry it too
    const err = await app.inject({ method: 'GET', url: '/accounts', headers: { 'x-request-id': 'err-1' } })
    assert.equal(err.statusCode, 401)
    assert.equal(err.headers['x-request-id'], 'err-1')
  })
})

const hex = (label: string) => `${label}-${randomBytes(16).toString('hex')}`

for (const kind of STORE_KINDS) {
  for (const level of ['info', 'trace']) {
    test(`log secrecy: a whole import, read, refresh and failure cycle logs no secret (${kind} store, LOG_LEVEL=${level})`, async (t) => {
      const secrets = {
        at1: hex('at1'),
        rt1: hex('rt1'),
        at2: hex('at2'),
        rt2: hex('rt2'),
        at3: hex('at3'),
        rt3: hex('rt3'),
        at4: hex('at4'),
      }
      const provider = await startStubProvider()
      t.after(() => provider.close())
      let refreshes = 0
      provider.handle('/token', (req, res) => {
        refreshes++
        if (refreshes === 1) {
          json(res, 200, { access_token: secrets.at2, refresh_token: secrets.rt2, token_type: 'Bearer', expires_in: 3600 })
        } else {
          // a provider that echoes the token it rejects
          json(res, 400, { error: 'invalid_grant', error_description: `refresh token ${req.body.refresh_token} is revoked` })
        }
      })
      const clock = manualClock(Date.now())
      const f = await storeApp(t, kind, kind === 'redis' ? redisFixture : null, {
        providers: loopbackProviders({ acmeTokenUrl: `${provider.url}/token` }),
        env: { LOG_LEVEL: level },
        deps: { clock },
      })
      const { app, logs } = f
      const caller = callerToken()
      const h = auth(caller)
      const expect = async (req: InjectOptions, status: number) => {
        const res = await app.inject({ ...req, headers: { ...h, ...req.headers } })
        assert.equal(res.statusCode, status, `${req.method} ${String(req.url)}: ${res.body}`)
        return res
      }

      await expect(
        {
          method: 'PUT',
          url: '/accounts/crm-prod',
          payload: { provider: 'acme', access_token: secrets.at1, refresh_token: secrets.rt1, expires_in: 3600 },
        },
        201,
      )
      await expect({ method: 'GET', url: '/accounts/crm-prod' }, 200)
      await expect({ method: 'GET', url: '/accounts' }, 200)
      assert.equal((await expect({ method: 'GET', url: '/tokens/crm-prod/access' }, 200)).json().access_token, secrets.at1)
      // forced refresh: the provider gets rt1, hands out at2/rt2
      assert.equal(
        (await expect({ method: 'POST', url: '/tokens/crm-prod/refresh', payload: { rejected_token: secrets.at1 } }, 200)).json()
          .access_token,
        secrets.at2,
      )
      assert.equal(provider.requests[0]?.body.refresh_token, secrets.rt1, 'the refresh really reached the provider')
      // a stale rejected token gets the current one without a provider call
      assert.equal(
        (await expect({ method: 'POST', url: '/tokens/crm-prod/refresh', payload: { rejected_token: secrets.at1 } }, 200)).json()
          .access_token,
        secrets.at2,
      )
      // replace, conflict, bad bodies and bad queries that carry secrets
      await expect(
        {
          method: 'PUT',
          url: '/accounts/crm-prod',
          payload: { provider: 'acme', access_token: secrets.at3, refresh_token: secrets.rt3, expires_in: 60 },
        },
        200,
      )
      await expect(
        { method: 'PUT', url: '/accounts/crm-prod', payload: { provider: 'beta', access_token: secrets.at4, refresh_token: secrets.rt1 } },
        409,
      )
      await expect(
        { method: 'PUT', url: '/accounts/other', payload: { provider: 'acme', access_token: secrets.at4, extra: secrets.rt2 } },
        400,
      )
      await expect({ method: 'PUT', url: '/accounts/other', headers: { 'content-type': 'text/plain' }, payload: secrets.at4 }, 415)
      await expect(
        {
          method: 'PUT',
          url: '/accounts/other',
          headers: { 'content-type': 'application/json' },
          payload: `{"access_token":"${secrets.at4}"`,
        },
        400,
      )
      await expect({ method: 'GET', url: `/tokens/crm-prod/access?access_token=${secrets.at3}` }, 400)
      await expect({ method: 'GET', url: `/accounts?cursor=${secrets.rt3}` }, 400) // not a cursor the broker sealed
      // the access token nears expiry: the refresh meets invalid_grant (with the token echoed in the description)
      clock.advance(59_000)
      await expect({ method: 'GET', url: '/tokens/crm-prod/access' }, 409)
      assert.equal(provider.requests[1]?.body.refresh_token, secrets.rt3)
      await expect({ method: 'GET', url: '/tokens/crm-prod/access' }, 409)
      const meta = (await expect({ method: 'GET', url: '/accounts/crm-prod' }, 200)).json()
      assert.equal(meta.status, 'reauth_required')
      assert.ok(!JSON.stringify(meta).includes(secrets.rt3), 'last_error does not carry the echoed token')

      assert.ok(logs.lines.length > 10, `requests were logged (${logs.lines.length} lines)`)
      const text = logs.text
      for (const [name, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `${name} appears in the logs`)
      assert.ok(!text.includes(caller), 'the caller JWT appears in the logs')
      assert.ok(!text.includes(caller.split('.')[2]!), 'the caller JWT signature appears in the logs')
      assert.ok(!text.includes(TEST_JWT_SECRET), 'the JWT secret appears in the logs')
      assert.ok(!text.includes('acme-client-secret-value'), 'the client secret appears in the logs')
      assert.ok(!text.includes(TEST_KEYS.split(':')[1]!), 'the encryption key appears in the logs')
      const metrics = await metricsText(app)
      for (const value of Object.values(secrets)) assert.ok(!metrics.includes(value), 'a token appears in metrics')
    })
  }
}
