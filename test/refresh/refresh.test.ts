import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { json, rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'

let redis: RedisServer
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

for (const storeKind of ['memory', 'redis'] as const) {
  describe(`refresh on the ${storeKind} store`, () => {
    let stub: StubProvider
    const broker = async (o: Parameters<typeof brokerFor>[1] = {}) => {
      stub = await startStubProvider()
      return brokerFor(stub, { redis: storeKind === 'redis' ? redis : undefined, ...o })
    }

    test('concurrent requests for an expiring grant cause one refresh and get one token', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', rotatingTokens('', { delayMs: 50 }))
      await importGrant(app, 'acct-1', { access_token: 'old-at', refresh_token: 'rt-0', expires_in: 60 })
      const answers = await Promise.all(Array.from({ length: 50 }, () => getAccess(app, 'acct-1')))
      assert.deepEqual(
        answers.map((a) => a.statusCode),
        Array(50).fill(200),
      )
      assert.deepEqual(new Set(answers.map((a) => a.json().access_token)), new Set(['at-1']))
      assert.equal(stub.count('/token'), 1)
      const sent = stub.requests[0]!
      assert.equal(sent.body.grant_type, 'refresh_token')
      assert.equal(sent.body.refresh_token, 'rt-0')
      assert.match(String(sent.headers.authorization), /^Basic /)
      const body = answers[0]!.json()
      assert.deepEqual(Object.keys(body).sort(), ['access_token', 'account', 'expires_at', 'expires_in', 'provider', 'scope', 'token_type'])
      assert.equal(body.token_type, 'Bearer')
      assert.equal(answers[0]!.headers['cache-control'], 'no-store')
      // The fresh token is served from the store: no second call.
      assert.equal((await getAccess(app, 'acct-1')).json().access_token, 'at-1')
      assert.equal(stub.count('/token'), 1)
      // The rotated refresh token replaced the old one.
      await app.inject({ method: 'POST', url: '/tokens/acct-1/refresh', headers: bearer() })
      assert.equal(stub.requests[1]!.body.refresh_token, 'rt-1')
      const meta = (await app.inject({ method: 'GET', url: '/accounts/acct-1', headers: bearer() })).json()
      assert.equal(meta.status, 'active')
      assert.notEqual(meta.last_refreshed_at, null)
    })

    test('a refresh response without a refresh token keeps the stored one (Google)', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', rotatingTokens('', { rotate: false }))
      await importGrant(app, 'g', { access_token: 'old', refresh_token: 'keep-me', expires_in: 10 })
      assert.equal((await getAccess(app, 'g')).json().access_token, 'at-1')
      await app.inject({ method: 'POST', url: '/tokens/g/refresh', headers: bearer() })
      assert.deepEqual(
        stub.requests.map((r) => r.body.refresh_token),
        ['keep-me', 'keep-me'],
      )
    })

    test('invalid_grant makes the account reauth_required; later requests do not call the provider', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', (_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'revoked' }))
      await importGrant(app, 'dead', { access_token: 'old', refresh_token: 'rt', expires_in: 10 })
      const first = await getAccess(app, 'dead')
      assert.equal(first.statusCode, 409)
      assert.equal(first.json().code, 'REAUTHENTICATION_REQUIRED')
      const meta = (await app.inject({ method: 'GET', url: '/accounts/dead', headers: bearer() })).json()
      assert.equal(meta.status, 'reauth_required')
      assert.equal(meta.last_error.code, 'REFRESH_TOKEN_INVALID')
      assert.equal(meta.expires_at, null)
      assert.equal((await getAccess(app, 'dead')).statusCode, 409)
      assert.equal((await app.inject({ method: 'POST', url: '/tokens/dead/refresh', headers: bearer() })).statusCode, 409)
      assert.equal(stub.count('/token'), 1)
    })

    test('a provider 503 leaves the account active and serves the still-valid token', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', (_req, res) => json(res, 503, { error: 'unavailable' }))
      await importGrant(app, 'flaky', { access_token: 'still-valid', refresh_token: 'rt', expires_in: 120 })
      const res = await getAccess(app, 'flaky')
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().access_token, 'still-valid')
      assert.equal(stub.count('/token'), 3)
      const meta = (await app.inject({ method: 'GET', url: '/accounts/flaky', headers: bearer() })).json()
      assert.equal(meta.status, 'active')
      assert.equal(meta.last_error.code, 'PROVIDER_UNAVAILABLE')
    })

    test('an expired token during a provider outage gets 503 with Retry-After, three attempts at most', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', (_req, res) => json(res, 502, {}))
      await importGrant(app, 'expired', {
        access_token: 'gone',
        refresh_token: 'rt',
        expires_at: new Date(Date.now() - 1000).toISOString(),
      })
      const res = await getAccess(app, 'expired')
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().code, 'PROVIDER_UNAVAILABLE')
      assert.match(String(res.headers['retry-after']), /^\d+$/)
      assert.equal(stub.count('/token'), 3)
      const meta = (await app.inject({ method: 'GET', url: '/accounts/expired', headers: bearer() })).json()
      assert.equal(meta.status, 'active')
    })

    test('a provider that hangs past the timeout is a transient failure', async (t) => {
      const { app } = await broker({ env: { PROVIDER_TIMEOUT_MS: '150' } })
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', () => {
        /* never answers */
      })
      await importGrant(app, 'hang', { access_token: 'gone', refresh_token: 'rt', expires_at: new Date(Date.now() - 1000).toISOString() })
      const res = await getAccess(app, 'hang')
      assert.equal(res.statusCode, 503)
      assert.ok(res.headers['retry-after'])
      assert.equal(stub.count('/token'), 3)
    })

    test('429 with Retry-After is honoured: a short one is waited out, a long one is passed on', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      let calls = 0
      const tokens = rotatingTokens()
      stub.handle('/token', (req, res) => (++calls === 1 ? json(res, 429, {}, { 'retry-after': '0' }) : tokens(req, res)))
      await importGrant(app, 'limited', { access_token: 'gone', refresh_token: 'rt', expires_in: 1 })
      const res = await getAccess(app, 'limited')
      assert.equal(res.statusCode, 200)
      assert.equal(stub.count('/token'), 2)

      stub.handle('/token', (_req, res) => json(res, 429, {}, { 'retry-after': '120' }))
      await importGrant(app, 'limited2', {
        access_token: 'gone',
        refresh_token: 'rt',
        expires_at: new Date(Date.now() - 1000).toISOString(),
      })
      const limited = await getAccess(app, 'limited2')
      assert.equal(limited.statusCode, 503)
      assert.equal(limited.headers['retry-after'], '120')
      assert.equal(stub.count('/token'), 3)
    })

    test('POST /refresh with a rejected token that is no longer current returns the current one', async (t) => {
      const { app } = await broker()
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', rotatingTokens())
      await importGrant(app, 'r', { access_token: 'first', refresh_token: 'rt', expires_in: 3600 })
      const forced = await app.inject({ method: 'POST', url: '/tokens/r/refresh', headers: bearer(), payload: { rejected_token: 'first' } })
      assert.equal(forced.statusCode, 200)
      assert.equal(forced.json().access_token, 'at-1')
      const again = await Promise.all(
        Array.from({ length: 20 }, () =>
          app.inject({ method: 'POST', url: '/tokens/r/refresh', headers: bearer(), payload: { rejected_token: 'first' } }),
        ),
      )
      assert.deepEqual(new Set(again.map((a) => a.json().access_token)), new Set(['at-1']))
      assert.equal(stub.count('/token'), 1)
      const empty = await app.inject({ method: 'POST', url: '/tokens/r/refresh', headers: bearer() })
      assert.equal(empty.statusCode, 200)
      assert.equal(empty.json().access_token, 'at-2')
    })

    test('invalid_client (HTTP 401) moves on to the next client secret', async (t) => {
      const { app } = await broker({ provider: { client_secret: ['old-secret', 'new-secret'] } })
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', (req, res) => {
        const auth = Buffer.from(String(req.headers.authorization).slice(6), 'base64').toString()
        if (auth.endsWith(':old-secret')) return json(res, 401, { error: 'invalid_client' })
        return json(res, 200, { access_token: 'via-new-secret', expires_in: 3600 })
      })
      await importGrant(app, 'sec', { access_token: 'old', refresh_token: 'rt', expires_in: 1 })
      const res = await getAccess(app, 'sec')
      assert.equal(res.json().access_token, 'via-new-secret')
      assert.equal(stub.count('/token'), 2)
    })

    test('GitHub-style errors in HTTP 200 are classified: a wrong client secret, then a dead grant', async (t) => {
      const { app } = await broker({ provider: { template: 'github', client_secret: ['old-secret', 'new-secret'] } })
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      stub.handle('/token', (req, res) => {
        if (req.body.client_secret !== 'new-secret') {
          return json(res, 200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          })
        }
        if (req.body.refresh_token === 'ghr_dead') {
          return json(res, 200, { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' })
        }
        return json(res, 200, { access_token: 'ghu_new', refresh_token: 'ghr_new', token_type: 'bearer', expires_in: 28800 })
      })
      await importGrant(app, 'gh', { access_token: 'ghu_old', refresh_token: 'ghr_live', expires_in: 1 })
      await importGrant(app, 'gh-dead', { access_token: 'ghu_old', refresh_token: 'ghr_dead', expires_in: 1 })

      const live = await getAccess(app, 'gh')
      assert.equal(live.statusCode, 200, live.body)
      assert.equal(live.json().access_token, 'ghu_new')
      assert.deepEqual(
        stub.requests.map((r) => r.body.client_secret),
        ['old-secret', 'new-secret'],
      )

      const dead = await getAccess(app, 'gh-dead')
      assert.equal(dead.statusCode, 409, dead.body)
      assert.equal(dead.json().code, 'REAUTHENTICATION_REQUIRED')
      const meta = (await app.inject({ method: 'GET', url: '/accounts/gh-dead', headers: bearer() })).json()
      assert.equal(meta.status, 'reauth_required')
      assert.equal(meta.last_error.code, 'REFRESH_TOKEN_INVALID')
      assert.equal(stub.count('/token'), 4)
    })
  })
}
