import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, test, type TestContext } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { bearer } from '../helpers/app.js'
import { STORE_KINDS, storeApp, type StoreKind } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { json, startStubProvider } from '../helpers/stub-provider.js'
import { T0, assertError, dumpRedis, manualClock, rawRedis } from './support.js'

const redisFixture = new RedisFixture()
after(() => redisFixture.dispose())

const iso = (ms: number) => new Date(ms).toISOString()
const admin = bearer()

interface Page {
  accounts: { account: string; provider: string; status: string }[]
  next_cursor: string | null
}

/** The stores the tests below opened an app on, so a skipped store shows at the end. */
const opened = new Set<StoreKind>()

for (const kind of STORE_KINDS) {
  describe(`accounts and tokens (${kind} store)`, () => {
    const open = (t: TestContext, opts: Parameters<typeof storeApp>[3] = {}) => {
      opened.add(kind)
      return storeApp(t, kind, kind === 'redis' ? redisFixture : null, opts)
    }

    async function withClock(t: TestContext) {
      const clock = manualClock()
      const fixture = await open(t, { deps: { clock } })
      return { ...fixture, clock }
    }

    const put = (app: FastifyInstance, account: string, payload: unknown) =>
      app.inject({ method: 'PUT', url: `/accounts/${account}`, headers: admin, payload: payload as object })

    test('PUT creates (201) with the whole metadata, and GET returns the same without a token', async (t) => {
      const { app } = await withClock(t)
      const res = await put(app, 'crm-prod', {
        provider: 'acme',
        access_token: 'at-one',
        refresh_token: 'rt-one',
        expires_in: 3600,
        scope: 'read write',
      })
      assert.equal(res.statusCode, 201, res.body)
      const expected = {
        account: 'crm-prod',
        provider: 'acme',
        status: 'active',
        scope: 'read write',
        expires_at: iso(T0 + 3_600_000),
        created_at: iso(T0),
        updated_at: iso(T0),
        last_refreshed_at: null,
        last_error: null,
      }
      assert.deepEqual(res.json(), expected)
      const got = await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })
      assert.equal(got.statusCode, 200)
      assert.deepEqual(got.json(), expected)
      assert.ok(!got.body.includes('at-one') && !got.body.includes('rt-one'), 'metadata carries no token')
    })

    test('expires_at is taken as given; no expiry and no scope give nulls', async (t) => {
      const { app } = await withClock(t)
      const at = await put(app, 'a1', { provider: 'acme', access_token: 'at', expires_at: '2030-01-01T02:00:00+01:00' })
      assert.equal(at.statusCode, 201, at.body)
      assert.equal(at.json().expires_at, iso(T0 + 3_600_000))
      const bare = await put(app, 'a2', { provider: 'acme', refresh_token: 'rt' })
      assert.equal(bare.statusCode, 201, bare.body)
      assert.deepEqual(bare.json(), {
        account: 'a2',
        provider: 'acme',
        status: 'active',
        scope: null,
        expires_at: null,
        created_at: iso(T0),
        updated_at: iso(T0),
        last_refreshed_at: null,
        last_error: null,
      })
    })

    test('same provider again replaces (200, created_at kept); another provider is 409; unknown provider 404', async (t) => {
      const { app, clock } = await withClock(t)
      assert.equal((await put(app, 'crm-prod', { provider: 'acme', access_token: 'at-1', expires_in: 60 })).statusCode, 201)
      clock.advance(5000)
      const again = await put(app, 'crm-prod', { provider: 'acme', access_token: 'at-2', expires_in: 120, scope: 's2' })
      assert.equal(again.statusCode, 200, again.body)
      assert.deepEqual(again.json(), {
        account: 'crm-prod',
        provider: 'acme',
        status: 'active',
        scope: 's2',
        expires_at: iso(T0 + 5000 + 120_000),
        created_at: iso(T0),
        updated_at: iso(T0 + 5000),
        last_refreshed_at: null,
        last_error: null,
      })
      const token = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })
      assert.equal(token.json().access_token, 'at-2', 'the replacement is what callers get')

      const conflict = await put(app, 'crm-prod', { provider: 'beta', access_token: 'at-3', expires_in: 60 })
      assertError(conflict, 409, 'ACCOUNT_CONFLICT', /crm-prod/)
      const unknown = await put(app, 'new-one', { provider: 'nope', access_token: 'at-4' })
      assertError(unknown, 404, 'PROVIDER_NOT_FOUND', /nope/)
      assertError(await app.inject({ method: 'GET', url: '/accounts/new-one', headers: admin }), 404, 'ACCOUNT_NOT_FOUND')
      // neither failure changed the stored account
      const after = await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })
      assert.deepEqual(after.json(), again.json())
      assert.equal((await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })).json().access_token, 'at-2')
    })

    test('an import needs a token, and not both expires_in and expires_at', async (t) => {
      const { app } = await withClock(t)
      const bad: [string, unknown][] = [
        ['no token', { provider: 'acme', expires_in: 60 }],
        ['both expiries', { provider: 'acme', access_token: 'at', expires_in: 60, expires_at: '2030-01-01T01:00:00Z' }],
        ['no provider', { access_token: 'at' }],
        ['expires_at not a date-time', { provider: 'acme', access_token: 'at', expires_at: 'tomorrow' }],
        ['negative expires_in', { provider: 'acme', access_token: 'at', expires_in: -1 }],
        ['fractional expires_in', { provider: 'acme', access_token: 'at', expires_in: 1.5 }],
        ['empty access_token', { provider: 'acme', access_token: '' }],
      ]
      for (const [what, payload] of bad) {
        const res = await put(app, 'crm-prod', payload)
        assert.equal(res.statusCode, 400, `${what}: ${res.body}`)
        assertError(res, 400, 'VALIDATION_ERROR')
      }
      assertError(await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin }), 404, 'ACCOUNT_NOT_FOUND')
    })

    test('GET /tokens/:account/access returns the token with Cache-Control: no-store', async (t) => {
      const { app, clock } = await withClock(t)
      await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-live', expires_in: 3600, scope: 'read' })
      clock.advance(10_000)
      const res = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['cache-control'], 'no-store')
      assert.deepEqual(res.json(), {
        account: 'crm-prod',
        provider: 'acme',
        access_token: 'at-live',
        token_type: 'Bearer',
        expires_at: iso(T0 + 3_600_000),
        expires_in: 3590,
        scope: 'read',
      })
      // a token with no lifetime: expires_at and expires_in are null
      await importGrant(app, 'forever', { provider: 'acme', access_token: 'at-forever', token_type: 'MAC' })
      const forever = await app.inject({ method: 'GET', url: '/tokens/forever/access', headers: admin })
      assert.deepEqual(forever.json(), {
        account: 'forever',
        provider: 'acme',
        access_token: 'at-forever',
        token_type: 'MAC',
        expires_at: null,
        expires_in: null,
        scope: null,
      })
    })

    test('min_ttl is digits only, 0 to 3600', async (t) => {
      const { app } = await withClock(t)
      await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-live', expires_in: 7200 })
      for (const value of ['-1', '1.5', '1e3', 'abc', '3601', '', ' 1', '0x10', '99999', '+5']) {
        const res = await app.inject({ method: 'GET', url: `/tokens/crm-prod/access?min_ttl=${encodeURIComponent(value)}`, headers: admin })
        assertError(res, 400, 'VALIDATION_ERROR', /min_ttl/)
      }
      for (const value of ['0', '1', '300', '3600', '0042']) {
        const res = await app.inject({ method: 'GET', url: `/tokens/crm-prod/access?min_ttl=${value}`, headers: admin })
        assert.equal(res.statusCode, 200, `min_ttl=${value}: ${res.body}`)
        assert.equal(res.json().access_token, 'at-live')
      }
    })

    test('an expired token whose refresh fails transiently is 503 PROVIDER_UNAVAILABLE with Retry-After', async (t) => {
      const provider = await startStubProvider()
      t.after(() => provider.close())
      provider.handle('/token', (_req, res) => json(res, 503, { error: 'temporarily_unavailable' }))
      const clock = manualClock()
      const { app } = await open(t, { providers: loopbackProviders({ acmeTokenUrl: `${provider.url}/token` }), deps: { clock } })
      await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-old', refresh_token: 'rt-old', expires_in: 60 })
      clock.advance(61_000)
      const res = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })
      assertError(res, 503, 'PROVIDER_UNAVAILABLE')
      assert.match(String(res.headers['retry-after']), /^[1-9][0-9]*$/)
      assert.ok(!res.body.includes('at-old'), 'the expired token is not handed out')
      const calls = provider.count('/token')
      assert.ok(calls >= 1 && calls <= 3, `1 to 3 refresh attempts, got ${calls}`)
      const meta = (await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })).json()
      assert.equal(meta.status, 'active', 'a transient failure never changes the status')
    })

    test('an expired token with no refresh token is 409 REAUTHENTICATION_REQUIRED', async (t) => {
      const clock = manualClock()
      const { app } = await open(t, { deps: { clock } })
      await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-old', expires_in: 60 })
      clock.advance(61_000)
      assertError(await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin }), 409, 'REAUTHENTICATION_REQUIRED')
      const meta = (await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })).json()
      assert.equal(meta.status, 'reauth_required')
      assert.equal(meta.expires_at, null)
      assert.equal(typeof meta.last_error?.code, 'string')
    })

    test('an unknown account is 404 ACCOUNT_NOT_FOUND on every route', async (t) => {
      const { app } = await open(t)
      assertError(await app.inject({ method: 'GET', url: '/accounts/nobody', headers: admin }), 404, 'ACCOUNT_NOT_FOUND', /nobody/)
      assertError(await app.inject({ method: 'GET', url: '/tokens/nobody/access', headers: admin }), 404, 'ACCOUNT_NOT_FOUND', /nobody/)
      assertError(await app.inject({ method: 'POST', url: '/tokens/nobody/refresh', headers: admin }), 404, 'ACCOUNT_NOT_FOUND', /nobody/)
    })

    test('listing: pages walk every account exactly once in id order; filters; bounds', async (t) => {
      const clock = manualClock()
      const { app } = await open(t, { deps: { clock } })
      const ids = Array.from({ length: 25 }, (_, i) => `acct-${String(i).padStart(2, '0')}`)
      // import in a scrambled order: the listing's order is the ids', not the imports'
      for (const id of [...ids].reverse()) {
        const n = Number(id.slice(5))
        await importGrant(app, id, {
          provider: n % 3 === 0 ? 'beta' : 'acme',
          access_token: `at-${id}`,
          expires_in: n % 5 === 0 ? 30 : 3600,
        })
      }
      // the ones whose token has expired and that have no refresh token become reauth_required
      clock.advance(31_000)
      const reauth = ids.filter((id) => Number(id.slice(5)) % 5 === 0)
      for (const id of reauth) {
        assertError(await app.inject({ method: 'GET', url: `/tokens/${id}/access`, headers: admin }), 409, 'REAUTHENTICATION_REQUIRED')
      }

      async function walk(query: Record<string, string>, limit: number): Promise<Page['accounts']> {
        const seen: Page['accounts'] = []
        let cursor: string | null = null
        for (let page = 0; page < 50; page++) {
          const res: LightMyRequestResponse = await app.inject({
            method: 'GET',
            url: '/accounts',
            query: { ...query, limit: String(limit), ...(cursor ? { cursor } : {}) },
            headers: admin,
          })
          assert.equal(res.statusCode, 200, res.body)
          const body = res.json() as Page
          assert.deepEqual(Object.keys(body).sort(), ['accounts', 'next_cursor'])
          assert.ok(body.accounts.length <= limit, `page within limit: ${body.accounts.length}`)
          seen.push(...body.accounts)
          cursor = body.next_cursor
          if (cursor === null) return seen
          assert.match(cursor, /^[A-Za-z0-9_-]+$/)
        }
        assert.fail('the walk did not end')
      }

      const all = await walk({}, 10)
      assert.deepEqual(
        all.map((a) => a.account),
        ids,
      )
      const first = await app.inject({ method: 'GET', url: '/accounts?limit=10', headers: admin })
      assert.equal((first.json() as Page).accounts.length, 10)
      assert.notEqual((first.json() as Page).next_cursor, null)
      const whole = await app.inject({ method: 'GET', url: '/accounts', headers: admin })
      assert.deepEqual(
        whole.json(),
        { accounts: await walk({}, 25), next_cursor: null },
        'the default limit (100) holds all 25 on one page',
      )

      const betas = ids.filter((id) => Number(id.slice(5)) % 3 === 0)
      assert.deepEqual(
        (await walk({ provider: 'beta' }, 3)).map((a) => a.account),
        betas,
      )
      assert.ok((await walk({ provider: 'beta' }, 3)).every((a) => a.provider === 'beta'))
      assert.deepEqual(
        (await walk({ status: 'reauth_required' }, 2)).map((a) => a.account),
        reauth,
      )
      assert.deepEqual(
        (await walk({ status: 'active' }, 7)).map((a) => a.account),
        ids.filter((id) => !reauth.includes(id)),
      )
      assert.deepEqual(
        (await walk({ provider: 'beta', status: 'reauth_required' }, 1)).map((a) => a.account),
        betas.filter((id) => reauth.includes(id)),
      )
      assert.deepEqual(await walk({ provider: 'nope' }, 10), [])
      assert.equal((await app.inject({ method: 'GET', url: '/accounts?limit=1', headers: admin })).json().accounts.length, 1)
      assert.equal((await app.inject({ method: 'GET', url: '/accounts?limit=500', headers: admin })).json().accounts.length, 25)

      for (const query of [
        'limit=0',
        'limit=501',
        'limit=-1',
        'limit=abc',
        'limit=1.5',
        'status=gone',
        'provider=Not%20A%20Name',
        'cursor=%21%21%21',
        'cursor=a%20b',
        `cursor=${'A'.repeat(513)}`,
        'cursor=',
        'page=2',
      ]) {
        assertError(await app.inject({ method: 'GET', url: `/accounts?${query}`, headers: admin }), 400, 'VALIDATION_ERROR')
      }
    })

    if (kind === 'redis') {
      test('Redis never holds a token in plaintext', async (t) => {
        const { app, redis, config } = await open(t)
        const secrets = {
          access: `at-${randomBytes(16).toString('hex')}`,
          refresh: `rt-${randomBytes(16).toString('hex')}`,
        }
        await importGrant(app, 'crm-prod', {
          provider: 'acme',
          access_token: secrets.access,
          refresh_token: secrets.refresh,
          expires_in: 3600,
        })
        const served = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: admin })
        assert.equal(served.json().access_token, secrets.access)
        const client = await rawRedis(t, redis!)
        const dump = await dumpRedis(client)
        assert.ok(dump.size > 0, 'the import wrote keys')
        const grantKeys = [...dump.keys()].filter((k) => k.startsWith(config.keyPrefix) && k.includes('{crm-prod}'))
        assert.ok(grantKeys.length > 0, `a grant key for the account: ${[...dump.keys()]}`)
        const grant = await client.hgetall(grantKeys.find((k) => k.endsWith(':grant'))!)
        assert.match(
          grant.at ?? '',
          /^k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
          'the access token is sealed with the first key',
        )
        assert.match(
          grant.rt ?? '',
          /^k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
          'the refresh token is sealed with the first key',
        )
        for (const [key, value] of dump) {
          for (const secret of Object.values(secrets)) {
            assert.ok(!value.includes(secret) && !key.includes(secret), `${key} holds a plaintext token`)
            // nor a recognisable encoding of it
            for (const encoded of [
              Buffer.from(secret).toString('base64'),
              Buffer.from(secret).toString('base64url'),
              Buffer.from(secret).toString('hex'),
            ]) {
              assert.ok(!value.includes(encoded), `${key} holds an encoded token`)
            }
          }
        }
      })
    }
  })
}

// A guard against a silently skipped store: the tests above opened an app on each kind.
test('both stores are exercised', () => {
  assert.deepEqual([...opened].sort(), ['memory', 'redis'])
})
