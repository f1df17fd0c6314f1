/**
 * AUTH_JWKS_URL: tokens with unknown kids must not make the broker hammer the identity
 * provider, while keys that rotate in are still picked up.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, describe, test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { jwksSettings } from '../../src/http/jwks.js'
import { testApp } from '../helpers/app.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { waitFor } from '../helpers/wait.js'
import { assertError, auth, claims, makeJwt, type JwtKey } from './support.js'

const DEFAULTS = { ...jwksSettings }
afterEach(() => {
  Object.assign(jwksSettings, DEFAULTS)
})

/** A JWKS endpoint whose key set (or failure) the test changes; counts every request. */
interface KeyServer {
  url: string
  keys: Record<string, unknown>[]
  failing: boolean
  requests: number
  server: Server
}

async function keyServer(): Promise<KeyServer> {
  const ks: KeyServer = {
    url: '',
    keys: [],
    failing: false,
    requests: 0,
    server: createServer((_req, res) => {
      ks.requests++
      if (ks.failing) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"down"}')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: ks.keys }))
    }),
  }
  await new Promise<void>((resolve) => ks.server.listen(0, '127.0.0.1', resolve))
  ks.url = `http://127.0.0.1:${(ks.server.address() as AddressInfo).port}/.well-known/jwks.json?tenant=secret-tenant-value`
  return ks
}

const jwk = (key: KeyObject, extra: Record<string, unknown>) => ({ ...key.export({ format: 'jwk' }), use: 'sig', ...extra })

/** A test-controlled monotonic clock for the key set's interval. */
function manualNow() {
  let now = 1_000_000
  return Object.assign(() => now, {
    advance: (ms: number) => {
      now += ms
    },
  })
}

describe('JWKS fetches are bounded (AUTH_JWKS_URL)', () => {
  const k1 = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const k3 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const k5 = generateKeyPairSync('rsa', { modulusLength: 2048 })
  let ks: KeyServer

  before(async () => {
    ks = await keyServer()
  })
  after(
    () =>
      new Promise<void>((resolve) => {
        ks.server.closeAllConnections()
        ks.server.close(() => resolve())
      }),
  )

  async function jwksApp(t: TestContext) {
    ks.keys = [jwk(k1.publicKey, { kid: 'k1', alg: 'RS256' })]
    ks.failing = false
    ks.requests = 0
    const { app, logs } = await testApp({ providers: loopbackProviders(), env: { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: ks.url } })
    t.after(() => app.close())
    return { app, logs }
  }

  // A jti per token, so the verifier's cache of good tokens never answers for the key set.
  const token = (key: JwtKey, header: Record<string, unknown>) => makeJwt(key, claims({ jti: randomUUID() }), header)
  const rs = (key: KeyObject): JwtKey => ({ alg: 'RS256', key })
  const es = (key: KeyObject): JwtKey => ({ alg: 'ES256', key })
  const status = async (app: FastifyInstance, jwt: string) =>
    (await app.inject({ method: 'GET', url: '/providers', headers: auth(jwt) })).statusCode
  const randomKid = () => randomBytes(12).toString('base64url')

  test('20 tokens with random unknown kids: no fetch beyond the first within the interval, all 401', async (t) => {
    const clock = manualNow()
    jwksSettings.now = clock
    const { app } = await jwksApp(t)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200)
    assert.equal(ks.requests, 1, 'the initial fetch')

    for (let i = 0; i < 20; i++) {
      const res = await app.inject({ method: 'GET', url: '/providers', headers: auth(token(rs(k1.privateKey), { kid: randomKid() })) })
      assertError(res, 401, 'UNAUTHORIZED')
    }
    const parallel = await Promise.all(Array.from({ length: 20 }, () => status(app, token(rs(k1.privateKey), { kid: randomKid() }))))
    assert.deepEqual(parallel, Array(20).fill(401))
    // a known kid with another alg, and no kid at all, are unknown keys too
    assert.equal(await status(app, token(es(k3.privateKey), { kid: 'k1' })), 401)
    assert.equal(await status(app, token(rs(k1.privateKey), {})), 401)
    assert.equal(ks.requests, 1, `random kids made the broker fetch the JWKS ${ks.requests - 1} more times`)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200, 'a valid kid keeps working')

    // Once the interval has passed, an unknown kid may fetch once again, and only once.
    clock.advance(DEFAULTS.minRefetchIntervalMs)
    const burst = await Promise.all(Array.from({ length: 20 }, () => status(app, token(rs(k1.privateKey), { kid: randomKid() }))))
    assert.deepEqual(burst, Array(20).fill(401))
    assert.equal(ks.requests, 2, 'one more fetch per interval at most')
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200)
    assert.equal(ks.requests, 2)
  })

  test('on a fresh app, 20 concurrent unknown kids share one fetch', async (t) => {
    const { app } = await jwksApp(t)
    const results = await Promise.all(Array.from({ length: 20 }, () => status(app, token(rs(k1.privateKey), { kid: randomKid() }))))
    assert.deepEqual(results, Array(20).fill(401))
    assert.equal(ks.requests, 1)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200, 'the set fetched then serves a valid kid')
    assert.equal(ks.requests, 1)
  })

  test('a key that rotates in is accepted once the interval has passed; a removed key stops at max age', async (t) => {
    const clock = manualNow()
    jwksSettings.now = clock
    const { app } = await jwksApp(t)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200)
    ks.keys = [...ks.keys, jwk(k3.publicKey, { kid: 'k3', alg: 'ES256' })]
    assert.equal(await status(app, token(es(k3.privateKey), { kid: 'k3' })), 401, 'too soon after the last fetch')
    clock.advance(DEFAULTS.minRefetchIntervalMs - 1)
    assert.equal(await status(app, token(es(k3.privateKey), { kid: 'k3' })), 401, 'still too soon')
    assert.equal(ks.requests, 1)
    clock.advance(1)
    assert.equal(await status(app, token(es(k3.privateKey), { kid: 'k3' })), 200, 'the new key is fetched and accepted')
    assert.equal(ks.requests, 2)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200, 'the old key still works')
    assert.equal(ks.requests, 2)

    // k1 leaves the set: once the set is older than its max age, it is fetched again and k1 is refused.
    ks.keys = [jwk(k3.publicKey, { kid: 'k3', alg: 'ES256' })]
    clock.advance(DEFAULTS.maxAgeMs)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 401)
    assert.equal(ks.requests, 3)
    assert.equal(await status(app, token(es(k3.privateKey), { kid: 'k3' })), 200)
    assert.equal(ks.requests, 3)
  })

  test('with a short injected interval on the real clock, a new kid is picked up', async (t) => {
    jwksSettings.minRefetchIntervalMs = 100
    const { app } = await jwksApp(t)
    const started = Date.now()
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200)
    ks.keys = [...ks.keys, jwk(k5.publicKey, { kid: 'k5' })] // no alg in the JWK: the key type decides
    await waitFor('the rotated-in key k5 to be accepted', async () =>
      (await status(app, token(rs(k5.privateKey), { kid: 'k5' }))) === 200 ? true : undefined,
    )
    const elapsed = Date.now() - started
    assert.ok(ks.requests >= 2 && ks.requests <= 2 + Math.ceil(elapsed / 100), `${ks.requests} fetches in ${elapsed} ms`)
  })

  test('a failing JWKS endpoint: the set in hand keeps working, retries at most once per interval, no query in logs', async (t) => {
    const clock = manualNow()
    jwksSettings.now = clock
    const { app, logs } = await jwksApp(t)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200)
    ks.failing = true
    clock.advance(DEFAULTS.maxAgeMs)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200, 'a stale set beats no set')
    assert.equal(ks.requests, 2)
    for (let i = 0; i < 5; i++) assert.equal(await status(app, token(rs(k1.privateKey), { kid: randomKid() })), 401)
    assert.equal(await status(app, token(rs(k1.privateKey), { kid: 'k1' })), 200)
    assert.equal(ks.requests, 2, 'no retry before the interval')
    assert.match(logs.text, /fetching the JWKS failed/)
    assert.ok(!logs.text.includes('secret-tenant-value'), 'the JWKS query string is not logged')
  })

  test('a fresh app whose JWKS endpoint is down answers 401, not 5xx', async (t) => {
    const { app } = await jwksApp(t)
    ks.failing = true
    const res = await app.inject({ method: 'GET', url: '/providers', headers: auth(token(rs(k1.privateKey), { kid: 'k1' })) })
    assertError(res, 401, 'UNAUTHORIZED')
    assert.equal(ks.requests, 1)
  })
})
