import assert from 'node:assert/strict'
import { after, describe, test, type TestContext } from 'node:test'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { bearer } from '../helpers/app.js'
import { STORE_KINDS, storeApp, type StoreApp } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { assertClientError, assertError, dumpRedis, rawRedis } from './support.js'

const redisFixture = new RedisFixture()
after(() => redisFixture.dispose())

const admin = bearer()

/** Account ids the contract's pattern refuses, as they appear in a URL path. */
const BAD_IDS: [string, string][] = [
  ['a space', 'crm%20prod'],
  ['only a space', '%20'],
  ['a raw unicode letter, percent-encoded', '%C3%A9'],
  ['a word with a unicode letter', 'caf%C3%A9'],
  ['a leading dash', '-crm'],
  ['a leading dot', '.crm'],
  ['a leading underscore', '_crm'],
  ['an encoded slash', 'crm%2Fprod'],
  ['an encoded NUL', 'crm%00prod'],
  ['braces (a Redis hash tag)', '%7Bcrm%7D'],
  ['a star', 'crm*'],
  ['129 characters', 'a'.repeat(129)],
  ['200 characters', 'a'.repeat(200)],
  ['a dot', '.'],
  ['two dots', '..'],
  ['encoded dots', '%2E%2E'],
]

/** The same, where the router itself objects (Fastify answers these before the error handler). */
const ROUTER_BAD_IDS: [string, string][] = [
  ["300 characters (over the router's max param length)", 'a'.repeat(300)],
  ['a broken percent-escape', 'crm%2'],
  ['a lone percent sign', '%'],
]

const accountRoutes = (id: string): InjectOptions[] => [
  { method: 'GET', url: `/accounts/${id}` },
  { method: 'PUT', url: `/accounts/${id}`, payload: { provider: 'acme', access_token: 'at-evil', expires_in: 60 } },
  { method: 'GET', url: `/tokens/${id}/access` },
  { method: 'POST', url: `/tokens/${id}/refresh`, payload: {} },
]

/** What the store holds: the ids and every grant record, byte for byte (sealed values included). */
async function snapshot(f: StoreApp) {
  const store = f.app.storage.grants
  const ids = await store.listAccounts(null, 1000)
  const grants = await store.getGrants(ids)
  return { ids, grants }
}

async function seed(t: TestContext, kind: (typeof STORE_KINDS)[number]) {
  const f = await storeApp(t, kind, kind === 'redis' ? redisFixture : null)
  await importGrant(f.app, 'keep-me', {
    provider: 'acme',
    access_token: 'at-keep',
    refresh_token: 'rt-keep',
    expires_in: 3600,
    scope: 'a b',
  })
  await importGrant(f.app, 'other', { provider: 'beta', access_token: 'at-other', expires_in: 3600 })
  const before = await snapshot(f)
  assert.deepEqual(before.ids, ['keep-me', 'other'])
  const client = f.redis ? await rawRedis(t, f.redis) : null
  const raw = client ? await grantKeys(client, f.config.keyPrefix) : null
  return { ...f, before, client, raw }
}

/** Every key the store wrote, with its value; the rate limiter's counters move with every request. */
async function grantKeys(client: Redis, prefix: string): Promise<Map<string, string>> {
  const dump = await dumpRedis(client)
  for (const key of dump.keys()) if (key.startsWith(`${prefix}ratelimit`)) dump.delete(key)
  assert.ok(dump.size > 0)
  return dump
}

async function send(app: FastifyInstance, req: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await app.inject({ ...req, headers: { ...admin, ...req.headers } })
  assert.ok(res.statusCode < 500, `${req.method} ${String(req.url).slice(0, 60)}: never 5xx, got ${res.statusCode} ${res.body}`)
  return res
}

for (const kind of STORE_KINDS) {
  describe(`bad input changes nothing (${kind} store)`, () => {
    async function assertUnchanged(f: Awaited<ReturnType<typeof seed>>) {
      assert.deepEqual(await snapshot(f), f.before, 'the store holds what it held before')
      if (f.client) assert.deepEqual(await grantKeys(f.client, f.config.keyPrefix), f.raw, 'every Redis key and value is as before')
      const token = await f.app.inject({ method: 'GET', url: '/tokens/keep-me/access', headers: admin })
      assert.equal(token.json().access_token, 'at-keep')
    }

    test('account ids outside the pattern: 400 VALIDATION_ERROR on every route (or 404 where the path normalises away)', async (t) => {
      const f = await seed(t, kind)
      for (const [what, id] of BAD_IDS) {
        for (const req of accountRoutes(id)) {
          const res = await send(f.app, req)
          const body = assertClientError(res, `${req.method} ${what}`)
          if (id === '..' || id === '%2E%2E' || (id === '.' && !String(req.url).startsWith('/accounts/'))) {
            // the URL resolves to a path without the segment: no such route
            assert.ok(body.code === 'NOT_FOUND' || body.code === 'VALIDATION_ERROR', `${req.method} ${what}: ${res.body}`)
          } else {
            assertError(res, 400, 'VALIDATION_ERROR', /account/)
          }
        }
      }
      await assertUnchanged(f)
    })

    test('ids the router refuses are 400 in the contract shape too', async (t) => {
      const f = await seed(t, kind)
      for (const [what, id] of ROUTER_BAD_IDS) {
        for (const req of accountRoutes(id)) {
          const res = await send(f.app, req)
          assertClientError(res, `${req.method} ${what}`)
          assertError(res, 400, 'VALIDATION_ERROR')
          assert.ok(!res.body.includes('aaaaaaaaaa') && !res.body.includes('%'), `the message does not echo the URL: ${res.body}`)
        }
      }
      await assertUnchanged(f)
    })

    test('bodies that are not JSON objects of the schema: 415, 400 or 413, and nothing written', async (t) => {
      const f = await seed(t, kind)
      const json = { 'content-type': 'application/json' }
      const cases: [string, InjectOptions, number, string][] = [
        ['text/plain', { headers: { 'content-type': 'text/plain' }, payload: 'provider=acme' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
        [
          'text/plain that holds JSON',
          { headers: { 'content-type': 'text/plain' }, payload: '{"provider":"acme","access_token":"at-evil"}' },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        [
          'a form',
          { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'provider=acme&access_token=x' },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        [
          'multipart',
          { headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\n\r\nhi\r\n--x--' },
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        ['no content-type', { payload: Buffer.from('{"provider":"acme","access_token":"at-evil"}') }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
        ['malformed JSON', { headers: json, payload: '{"provider": "acme", ' }, 400, 'VALIDATION_ERROR'],
        ['an empty JSON body', { headers: json, payload: '' }, 400, 'VALIDATION_ERROR'],
        ['a JSON array', { headers: json, payload: '[{"provider":"acme"}]' }, 400, 'VALIDATION_ERROR'],
        ['JSON null', { headers: json, payload: 'null' }, 400, 'VALIDATION_ERROR'],
        ['a JSON string', { headers: json, payload: '"acme"' }, 400, 'VALIDATION_ERROR'],
        [
          '__proto__',
          { headers: json, payload: '{"provider":"acme","access_token":"at-evil","__proto__":{"admin":true}}' },
          400,
          'VALIDATION_ERROR',
        ],
        [
          'constructor.prototype',
          { headers: json, payload: '{"provider":"acme","access_token":"at-evil","constructor":{"prototype":{"admin":true}}}' },
          400,
          'VALIDATION_ERROR',
        ],
        ['an unknown field', { payload: { provider: 'acme', access_token: 'at-evil', status: 'active' } }, 400, 'VALIDATION_ERROR'],
        [
          'an unknown field (created_at)',
          { payload: { provider: 'acme', access_token: 'at-evil', created_at: '2000-01-01T00:00:00Z' } },
          400,
          'VALIDATION_ERROR',
        ],
        ['provider of the wrong type', { payload: { provider: { name: 'acme' }, access_token: 'at-evil' } }, 400, 'VALIDATION_ERROR'],
        ['provider not a name', { payload: { provider: '../acme', access_token: 'at-evil' } }, 400, 'VALIDATION_ERROR'],
        ['a token of the wrong type', { payload: { provider: 'acme', access_token: { value: 'x' } } }, 400, 'VALIDATION_ERROR'],
        ['an over-long token', { payload: { provider: 'acme', access_token: 'x'.repeat(8193) } }, 400, 'VALIDATION_ERROR'],
        [
          'token_type with a space',
          { payload: { provider: 'acme', access_token: 'at-evil', token_type: 'Bearer x' } },
          400,
          'VALIDATION_ERROR',
        ],
        [
          'a 1 MB JSON body',
          { headers: json, payload: JSON.stringify({ provider: 'acme', access_token: 'x'.repeat(1024 * 1024) }) },
          413,
          'PAYLOAD_TOO_LARGE',
        ],
        [
          '64 KiB + 1 of JSON',
          { headers: json, payload: `{"provider":"acme","access_token":"${'x'.repeat(64 * 1024 - 36)}"}` },
          413,
          'PAYLOAD_TOO_LARGE',
        ],
      ]
      for (const [what, req, status, code] of cases) {
        if (what === '64 KiB + 1 of JSON') assert.equal(Buffer.byteLength(req.payload as string), 64 * 1024 + 1)
        for (const url of ['/accounts/keep-me', '/accounts/brand-new']) {
          const res = await send(f.app, { method: 'PUT', url, ...req, headers: { ...admin, ...req.headers } })
          assert.equal(res.statusCode, status, `PUT ${url} with ${what}: ${res.body}`)
          assertError(res, status, code)
        }
      }
      // the refresh route's optional body follows the same rules (all refused before any provider call)
      for (const [what, req, status, code] of cases.filter(([w]) => /text\/plain$|form|malformed|array|1 MB|__proto__/.test(w))) {
        const res = await send(f.app, { method: 'POST', url: '/tokens/keep-me/refresh', ...req, headers: { ...admin, ...req.headers } })
        assert.equal(res.statusCode, status, `POST refresh with ${what}: ${res.body}`)
        assertError(res, status, code)
      }
      const unknown = await send(f.app, { method: 'POST', url: '/tokens/keep-me/refresh', payload: { rejected_token: 'x', force: true } })
      assertError(unknown, 400, 'VALIDATION_ERROR')
      await assertUnchanged(f)
    })

    test('POST /connect/:provider: bad provider names, bad account ids in the body, bad bodies', async (t) => {
      const f = await seed(t, kind)
      const connect = (url: string, req: InjectOptions) =>
        send(f.app, { method: 'POST', url, ...req, headers: { ...admin, ...req.headers } })
      for (const provider of ['ACME', '-acme', 'ac%20me', 'a'.repeat(65), '%C3%A9']) {
        assertError(await connect(`/connect/${provider}`, { payload: { account: 'crm-new' } }), 400, 'VALIDATION_ERROR')
      }
      assertError(await connect('/connect/nope', { payload: { account: 'crm-new' } }), 404, 'PROVIDER_NOT_FOUND')
      for (const [, id] of BAD_IDS) {
        const account = decodeURIComponent(id)
        assertError(await connect('/connect/acme', { payload: { account } }), 400, 'VALIDATION_ERROR', /account/)
      }
      assertError(await connect('/connect/acme', { payload: { account: 'crm-new', extra: 1 } }), 400, 'VALIDATION_ERROR')
      assertError(
        await connect('/connect/acme', { payload: { account: 'crm-new', return_to: 'https://evil.test/' } }),
        400,
        'VALIDATION_ERROR',
      )
      assertError(
        await connect('/connect/acme', { headers: { 'content-type': 'text/plain' }, payload: 'crm-new' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      )
      assertError(
        await connect('/connect/acme', { headers: { 'content-type': 'application/json' }, payload: '{"account":' }),
        400,
        'VALIDATION_ERROR',
      )
      await assertUnchanged(f)
    })

    test('a JSON body of exactly 64 KiB is accepted', async (t) => {
      const f = await storeApp(t, kind, kind === 'redis' ? redisFixture : null)
      const body = JSON.stringify({ provider: 'acme', access_token: 'at-big', expires_in: 60 })
      const payload = body + ' '.repeat(64 * 1024 - body.length)
      assert.equal(Buffer.byteLength(payload), 64 * 1024)
      const res = await f.app.inject({
        method: 'PUT',
        url: '/accounts/big',
        headers: { ...admin, 'content-type': 'application/json' },
        payload,
      })
      assert.equal(res.statusCode, 201, res.body)
    })

    test('bad query strings: 400', async (t) => {
      const f = await seed(t, kind)
      for (const url of [
        '/tokens/keep-me/access?min_ttl=1&min_ttl=2',
        '/tokens/keep-me/access?unknown=1',
        '/tokens/keep-me/access?min_ttl=%00',
        '/accounts?limit=1&limit=2',
        '/accounts?limit=0',
        '/accounts?limit=501',
        '/accounts?cursor=..',
        '/accounts?status=deleted',
        '/accounts?provider=ACME',
        '/accounts?secret=zzz',
      ]) {
        const res = await send(f.app, { method: 'GET', url })
        assertError(res, 400, 'VALIDATION_ERROR')
        assert.ok(!res.body.includes('zzz'), 'query values are not echoed')
      }
      await assertUnchanged(f)
    })

    test('unknown routes and methods: 404 NOT_FOUND in the contract shape, without the query string', async (t) => {
      const f = await seed(t, kind)
      for (const [method, url] of [
        ['GET', '/'],
        ['GET', '/nope?secret=zzz'],
        ['GET', '/accounts/keep-me/tokens'],
        ['GET', '/tokens/keep-me'],
        ['GET', '/tokens/keep-me/access/'],
        ['PATCH', '/accounts/keep-me'],
        ['POST', '/accounts'],
        ['POST', '/healthz'],
        ['DELETE', '/accounts'],
        ['GET', '/ACCOUNTS/keep-me'],
      ] as const) {
        const res = await f.app.inject({ method, url, headers: admin })
        assertError(res, 404, 'NOT_FOUND')
        assert.ok(!res.body.includes('zzz') && !res.body.includes('?'), `no query string in ${res.body}`)
      }
      // without a token too: an unknown route is 404, not 401
      assertError(await f.app.inject({ method: 'GET', url: '/nope' }), 404, 'NOT_FOUND')
      await assertUnchanged(f)
    })
  })
}
