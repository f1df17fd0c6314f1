import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test, type TestContext } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { TEST_JWT_SECRET, bearer, callerToken, testApp } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { assertError, auth, claims, makeJwt, nowSeconds, type JwtKey } from './support.js'

const hs = (secret: string | Buffer = TEST_JWT_SECRET): JwtKey => ({ alg: 'HS256', secret })

async function appWith(t: TestContext, env: Record<string, string> = {}) {
  const { app, logs } = await testApp({ providers: loopbackProviders(), env: { ...env } })
  t.after(() => app.close())
  return { app, logs }
}

function assertUnauthorized(res: LightMyRequestResponse, what: string): void {
  assert.equal(res.statusCode, 401, `${what}: ${res.statusCode} ${res.body}`)
  assertError(res, 401, 'UNAUTHORIZED')
  assert.match(String(res.headers['www-authenticate']), /^Bearer/, `${what}: WWW-Authenticate`)
}

const getProviders = (app: FastifyInstance, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: '/providers', headers })

describe('caller authentication (HS256 secret)', () => {
  test('a valid token passes', async (t) => {
    const { app } = await appWith(t)
    const res = await getProviders(app, bearer())
    assert.equal(res.statusCode, 200, res.body)
    // the hand-made signer makes tokens the app accepts, so the failures below are about the fault, not the signer
    assert.equal((await getProviders(app, auth(makeJwt(hs(), claims())))).statusCode, 200)
  })

  test('every failure mode is 401 UNAUTHORIZED with WWW-Authenticate: Bearer', async (t) => {
    const { app, logs } = await appWith(t)
    const now = nowSeconds()
    const noExp = claims()
    delete noExp.exp
    const noSub = claims()
    delete noSub.sub
    const cases: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['Basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['a bare token, no scheme', { authorization: callerToken() }],
      ['Bearer with nothing after it', { authorization: 'Bearer ' }],
      ['Bearer with two parts', { authorization: `Bearer ${callerToken()} extra` }],
      ['a garbage token', auth('garbage')],
      ['three garbage segments', auth('a.b.c')],
      ['alg none', auth(makeJwt({ alg: 'none' }, claims()))],
      ['alg none with a signature copied from a valid token', auth(`${makeJwt({ alg: 'none' }, claims())}${callerToken().split('.')[2]}`)],
      ['wrong HS256 secret', bearer({ secret: 'another-secret-0123456789abcdef012345' })],
      ['a tampered payload', auth(tamper(callerToken(), { scope: 'tokens:read accounts:read accounts:write tokens:revoke', sub: 'root' }))],
      ['expired', auth(makeJwt(hs(), claims({ iat: now - 700, exp: now - 100 })))],
      ['not yet valid (nbf in the future)', auth(makeJwt(hs(), claims({ nbf: now + 600 })))],
      ['missing sub', auth(makeJwt(hs(), noSub))],
      ['empty sub', auth(makeJwt(hs(), claims({ sub: '' })))],
      ['missing exp', auth(makeJwt(hs(), noExp))],
      ['exp not a number', auth(makeJwt(hs(), claims({ exp: 'tomorrow' })))],
      ['scope not a string', auth(makeJwt(hs(), claims({ scope: ['accounts:read'] })))],
      ['accounts not an array of strings', auth(makeJwt(hs(), claims({ accounts: 'crm-*' })))],
      ['HS384 with the right secret', auth(hs384(claims()))],
    ]
    for (const [what, headers] of cases) {
      assertUnauthorized(await getProviders(app, headers), what)
    }
    // The challenge says why only when a token was sent.
    const bare = await getProviders(app)
    assert.equal(bare.headers['www-authenticate'], 'Bearer')
    // An expired token says so (a caller can tell "mint a new one" from "wrong key").
    assertError(await getProviders(app, auth(makeJwt(hs(), claims({ exp: now - 100 })))), 401, 'UNAUTHORIZED', /expired/)
    for (const [, headers] of cases) {
      const token = headers.authorization?.split(' ')[1]
      if (token && token.length > 20) assert.ok(!logs.text.includes(token), 'a rejected token is never logged')
    }
  })

  test('issuer and audience, when configured, must match', async (t) => {
    const { app } = await appWith(t, { AUTH_JWT_ISSUER: 'https://issuer.test', AUTH_JWT_AUDIENCE: 'token-broker' })
    const good = { iss: 'https://issuer.test', aud: 'token-broker' }
    assert.equal((await getProviders(app, auth(makeJwt(hs(), claims(good))))).statusCode, 200)
    assert.equal(
      (await getProviders(app, auth(makeJwt(hs(), claims({ ...good, aud: ['other', 'token-broker'] }))))).statusCode,
      200,
      'an audience array containing ours passes',
    )
    const bad: [string, Record<string, unknown>][] = [
      ['wrong iss', { ...good, iss: 'https://evil.test' }],
      ['wrong aud', { ...good, aud: 'another-service' }],
      ['missing iss', { aud: 'token-broker' }],
      ['missing aud', { iss: 'https://issuer.test' }],
      ['iss differing by a trailing slash', { ...good, iss: 'https://issuer.test/' }],
    ]
    for (const [what, extra] of bad) assertUnauthorized(await getProviders(app, auth(makeJwt(hs(), claims(extra)))), what)
    // without the setting, iss/aud are not checked
    const { app: plain } = await appWith(t)
    assert.equal((await getProviders(plain, auth(makeJwt(hs(), claims({ iss: 'anyone', aud: 'anything' }))))).statusCode, 200)
  })
})

describe('caller authentication (AUTH_JWT_PUBLIC_KEY, RS256)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()

  test('an RS256 token signed with the key passes; alg confusion and other keys fail', async (t) => {
    const { app } = await appWith(t, { AUTH_JWT_SECRET: '', AUTH_JWT_PUBLIC_KEY: pem })
    assert.equal((await getProviders(app, auth(makeJwt({ alg: 'RS256', key: rsa.privateKey }, claims())))).statusCode, 200)
    const cases: [string, string][] = [
      ['HS256 signed with the PEM text (alg confusion)', makeJwt(hs(pem), claims())],
      ['HS256 signed with the PEM text, no trailing newline', makeJwt(hs(pem.trim()), claims())],
      ['HS256 signed with the DER key bytes', makeJwt(hs(rsa.publicKey.export({ type: 'spki', format: 'der' })), claims())],
      ['HS256 with the test secret', callerToken()],
      ['ES256 with another key', makeJwt({ alg: 'ES256', key: ec.privateKey }, claims())],
      ['RS256 signed with another RSA key', makeJwt({ alg: 'RS256', key: otherRsa.privateKey }, claims())],
      ['alg none', makeJwt({ alg: 'none' }, claims())],
      ['RS256 expired', makeJwt({ alg: 'RS256', key: rsa.privateKey }, claims({ exp: nowSeconds() - 60 }))],
    ]
    for (const [what, token] of cases) assertUnauthorized(await getProviders(app, auth(token)), what)
  })

  test('the PEM may be given with escaped newlines (one-line environment values)', async (t) => {
    const { app } = await appWith(t, { AUTH_JWT_SECRET: '', AUTH_JWT_PUBLIC_KEY: pem.replace(/\n/g, '\\n') })
    assert.equal((await getProviders(app, auth(makeJwt({ alg: 'RS256', key: rsa.privateKey }, claims())))).statusCode, 200)
  })
})

interface KeyServer {
  url: string
  requests: string[]
  server: Server
}

async function serve(body: (path: string) => unknown): Promise<KeyServer> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '/')
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(req.url ?? '/')))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server }
}

const close = (s: KeyServer) =>
  new Promise<void>((resolve) => {
    s.server.closeAllConnections()
    s.server.close(() => resolve())
  })

const jwk = (key: KeyObject, extra: Record<string, unknown>) => ({ ...key.export({ format: 'jwk' }), use: 'sig', ...extra })

describe('caller authentication (AUTH_JWKS_URL)', () => {
  const good = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const noAlg = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
  let jwks: KeyServer
  let evil: KeyServer

  before(async () => {
    jwks = await serve(() => ({ keys: [jwk(good.publicKey, { kid: 'k1', alg: 'RS256' }), jwk(noAlg.publicKey, { kid: 'k2' })] }))
    evil = await serve(() => ({
      keys: [jwk(attacker.publicKey, { kid: 'k1', alg: 'RS256' }), jwk(attacker.publicKey, { kid: 'evil', alg: 'RS256' })],
    }))
  })
  after(async () => {
    await close(jwks)
    await close(evil)
  })

  const jwksApp = (t: TestContext) => appWith(t, { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: `${jwks.url}/keys/jwks.json` })
  const rs = (key: KeyObject): JwtKey => ({ alg: 'RS256', key })

  test('a token signed with a key of the set passes (kid selects the key)', async (t) => {
    const { app } = await jwksApp(t)
    assert.equal((await getProviders(app, auth(makeJwt(rs(good.privateKey), claims(), { kid: 'k1' })))).statusCode, 200)
    assert.equal((await getProviders(app, auth(makeJwt(rs(noAlg.privateKey), claims(), { kid: 'k2' })))).statusCode, 200)
    assert.ok(
      jwks.requests.length > 0 && jwks.requests.every((p) => p === '/keys/jwks.json'),
      `JWKS fetched from the configured path: ${jwks.requests}`,
    )
  })

  test('jku / x5u in the token header are never followed', async (t) => {
    const { app } = await jwksApp(t)
    const before = evil.requests.length
    const cases: [string, string][] = [
      ['jku to another server, unknown kid', makeJwt(rs(attacker.privateKey), claims(), { kid: 'evil', jku: `${evil.url}/jwks.json` })],
      ['jku to another server, known kid', makeJwt(rs(attacker.privateKey), claims(), { kid: 'k1', jku: `${evil.url}/jwks.json` })],
      ['x5u to another server', makeJwt(rs(attacker.privateKey), claims(), { kid: 'evil', x5u: `${evil.url}/cert.pem` })],
      ['x5u with a known kid', makeJwt(rs(attacker.privateKey), claims(), { kid: 'k1', x5u: `${evil.url}/cert.pem` })],
      ['embedded jwk header', makeJwt(rs(attacker.privateKey), claims(), { kid: 'evil', jwk: jwk(attacker.publicKey, { kid: 'evil' }) })],
    ]
    for (const [what, token] of cases) assertUnauthorized(await getProviders(app, auth(token)), what)
    assert.equal(evil.requests.length - before, 0, `the other server got no request: ${evil.requests}`)
  })

  test('an unknown kid, a missing kid, HS256 and alg none fail', async (t) => {
    const { app } = await jwksApp(t)
    const goodPem = good.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const noAlgPem = noAlg.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const cases: [string, string][] = [
      ['unknown kid', makeJwt(rs(good.privateKey), claims(), { kid: 'nope' })],
      ['no kid', makeJwt(rs(good.privateKey), claims())],
      ['wrong key for the kid', makeJwt(rs(attacker.privateKey), claims(), { kid: 'k1' })],
      ['HS256 signed with the PEM of a key that names its alg', makeJwt(hs(goodPem), claims(), { kid: 'k1' })],
      ['HS256 signed with the PEM of a key that names no alg', makeJwt(hs(noAlgPem), claims(), { kid: 'k2' })],
      ['HS256 with the test secret', makeJwt(hs(), claims(), { kid: 'k1' })],
      ['alg none', makeJwt({ alg: 'none' }, claims(), { kid: 'k1' })],
      ['expired', makeJwt(rs(good.privateKey), claims({ exp: nowSeconds() - 60 }), { kid: 'k1' })],
    ]
    for (const [what, token] of cases) assertUnauthorized(await getProviders(app, auth(token)), what)
  })
})

describe('scopes', () => {
  // The contract's table: which scopes admit each route.
  const routes: { method: 'GET' | 'PUT' | 'POST'; url: string; scopes: string[]; payload?: unknown; ok: number }[] = [
    { method: 'GET', url: '/accounts', scopes: ['accounts:read'], ok: 200 },
    { method: 'GET', url: '/accounts/crm-prod', scopes: ['tokens:read', 'accounts:read'], ok: 200 },
    {
      method: 'PUT',
      url: '/accounts/crm-prod',
      scopes: ['accounts:write'],
      payload: { provider: 'acme', access_token: 'at-scope-test', expires_in: 3600 },
      ok: 200,
    },
    { method: 'GET', url: '/providers', scopes: ['accounts:read', 'accounts:write'], ok: 200 },
    { method: 'GET', url: '/tokens/crm-prod/access', scopes: ['tokens:read'], ok: 200 },
    {
      method: 'POST',
      url: '/tokens/crm-prod/refresh',
      scopes: ['tokens:read'],
      payload: { rejected_token: 'not-the-current-one' },
      ok: 200,
    },
    { method: 'POST', url: '/connect/acme', scopes: ['accounts:write'], payload: { account: 'crm-prod' }, ok: 201 },
  ]
  const ALL = ['tokens:read', 'tokens:revoke', 'accounts:read', 'accounts:write']

  test('each route admits exactly the scopes of the contract', async (t) => {
    const { app } = await appWith(t)
    await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-scope-test', expires_in: 3600 })
    for (const route of routes) {
      for (const scope of ALL) {
        const res = await app.inject({
          method: route.method,
          url: route.url,
          payload: route.payload as object,
          headers: bearer({ scopes: [scope] }),
        })
        const what = `${route.method} ${route.url} with ${scope}`
        if (route.scopes.includes(scope)) assert.equal(res.statusCode, route.ok, `${what}: ${res.body}`)
        else assertError(res, 403, 'FORBIDDEN')
      }
      for (const [what, headers] of [
        ['no scope claim', { authorization: `Bearer ${makeJwt(hs(), { sub: 'svc', exp: nowSeconds() + 600 })}` }],
        ['an empty scope', bearer({ scopes: [] })],
        [
          'a scope that only looks alike',
          bearer({ scopes: ['accounts', 'tokens', 'read', 'ACCOUNTS:READ', 'accounts:read:x', 'tokens:*'] }),
        ],
      ] as const) {
        const res = await app.inject({ method: route.method, url: route.url, payload: route.payload as object, headers })
        assert.equal(res.statusCode, 403, `${route.method} ${route.url} with ${what}: ${res.body}`)
        assertError(res, 403, 'FORBIDDEN')
      }
      // several scopes in one claim, separated by spaces
      const res = await app.inject({
        method: route.method,
        url: route.url,
        payload: route.payload as object,
        headers: bearer({ scopes: ['tokens:revoke', ...route.scopes] }),
      })
      assert.equal(res.statusCode, route.ok, `${route.method} ${route.url} with several scopes`)
    }
  })

  test('a missing scope is 403 whether or not the account exists (no existence oracle)', async (t) => {
    const { app } = await appWith(t)
    const res = await app.inject({ method: 'GET', url: '/tokens/nobody/access', headers: bearer({ scopes: ['accounts:read'] }) })
    assertError(res, 403, 'FORBIDDEN')
  })
})

describe('the accounts claim', () => {
  async function seeded(t: TestContext) {
    const { app, logs } = await appWith(t)
    for (const id of ['crm-prod', 'crm-staging', 'crmx', 'billing', 'billing-eu', 'axb', 'a*b']) {
      if (id.includes('*')) continue
      await importGrant(app, id, { provider: 'acme', access_token: `at-${id}`, expires_in: 3600 })
    }
    return { app, logs }
  }

  const get = (app: FastifyInstance, url: string, accounts: string[], scopes = ['tokens:read', 'accounts:read', 'accounts:write']) =>
    app.inject({ method: 'GET', url, headers: bearer({ scopes, accounts }) })

  test('exact entries and prefix* entries admit; anything else is 403 even when it does not exist', async (t) => {
    const { app } = await seeded(t)
    const claim = ['billing', 'crm-*']
    for (const id of ['billing', 'crm-prod', 'crm-staging']) {
      assert.equal((await get(app, `/accounts/${id}`, claim)).statusCode, 200, id)
      assert.equal((await get(app, `/tokens/${id}/access`, claim)).statusCode, 200, id)
    }
    // allowed but unknown: the caller may learn it does not exist
    assertError(await get(app, '/accounts/crm-unknown', claim), 404, 'ACCOUNT_NOT_FOUND')
    for (const id of ['billing-eu', 'crmx', 'axb', 'nobody', 'crm', 'Billing']) {
      assertError(await get(app, `/accounts/${id}`, claim), 403, 'FORBIDDEN')
      assertError(await get(app, `/tokens/${id}/access`, claim), 403, 'FORBIDDEN')
    }
  })

  test('`*` counts only at the end; `[]` allows none; `*` alone allows all', async (t) => {
    const { app } = await seeded(t)
    assertError(await get(app, '/accounts/axb', ['a*b']), 403, 'FORBIDDEN')
    assertError(await get(app, '/tokens/axb/access', ['a*b']), 403, 'FORBIDDEN')
    assertError(await get(app, '/accounts/crm-prod', ['*crm-prod']), 403, 'FORBIDDEN')
    for (const url of ['/accounts/crm-prod', '/tokens/crm-prod/access', '/accounts/nobody']) {
      assertError(await get(app, url, []), 403, 'FORBIDDEN')
    }
    assert.equal((await get(app, '/accounts/axb', ['*'])).statusCode, 200)
    assert.equal((await get(app, '/accounts/axb', ['a*'])).statusCode, 200)
  })

  test('PUT of a forbidden account is 403 and writes nothing', async (t) => {
    const { app } = await seeded(t)
    const headers = bearer({ scopes: ['accounts:write', 'accounts:read'], accounts: ['crm-*'] })
    const before = (await app.inject({ method: 'GET', url: '/accounts/billing', headers: bearer() })).json()
    for (const id of ['billing', 'new-account']) {
      const res = await app.inject({
        method: 'PUT',
        url: `/accounts/${id}`,
        headers,
        payload: { provider: 'acme', access_token: 'at-stolen', expires_in: 60 },
      })
      assertError(res, 403, 'FORBIDDEN')
    }
    assert.deepEqual((await app.inject({ method: 'GET', url: '/accounts/billing', headers: bearer() })).json(), before)
    assertError(await app.inject({ method: 'GET', url: '/accounts/new-account', headers: bearer() }), 404, 'ACCOUNT_NOT_FOUND')
    const ok = await app.inject({
      method: 'PUT',
      url: '/accounts/crm-new',
      headers,
      payload: { provider: 'acme', access_token: 'at-x', expires_in: 60 },
    })
    assert.equal(ok.statusCode, 201, ok.body)
  })

  test('an account named in the body is held to the claim too (POST /connect)', async (t) => {
    const { app } = await seeded(t)
    const connect = (account: string, accounts: string[]) =>
      app.inject({
        method: 'POST',
        url: '/connect/acme',
        headers: bearer({ scopes: ['accounts:write'], accounts }),
        payload: { account },
      })
    assert.equal((await connect('crm-new', ['crm-*'])).statusCode, 201)
    assert.equal((await connect('billing', ['billing'])).statusCode, 201)
    assertError(await connect('billing', ['crm-*']), 403, 'FORBIDDEN')
    assertError(await connect('axb', ['a*b']), 403, 'FORBIDDEN')
    assertError(await connect('crm-new', []), 403, 'FORBIDDEN')
  })

  test('GET /accounts lists only the allowed accounts', async (t) => {
    const { app } = await seeded(t)
    const list = async (accounts?: string[]) => {
      const res = await app.inject({
        method: 'GET',
        url: '/accounts',
        headers: bearer({ scopes: ['accounts:read'], ...(accounts ? { accounts } : {}) }),
      })
      assert.equal(res.statusCode, 200, res.body)
      return (res.json() as { accounts: { account: string }[] }).accounts.map((a) => a.account)
    }
    assert.deepEqual(await list(), ['axb', 'billing', 'billing-eu', 'crm-prod', 'crm-staging', 'crmx'])
    assert.deepEqual(await list(['billing', 'crm-*']), ['billing', 'crm-prod', 'crm-staging'])
    assert.deepEqual(await list(['a*b', 'nobody']), [])
    assert.deepEqual(await list([]), [])
  })

  test('with the accounts claim, pagination still walks every allowed account once', async (t) => {
    const { app } = await seeded(t)
    for (let i = 0; i < 12; i++) {
      await importGrant(app, `zz-${String(i).padStart(2, '0')}`, { provider: 'acme', access_token: 'at', expires_in: 3600 })
    }
    const headers = bearer({ scopes: ['accounts:read'], accounts: ['zz-0*', 'billing'] })
    const seen: string[] = []
    let cursor: string | null = null
    for (let page = 0; page < 20; page++) {
      const res: LightMyRequestResponse = await app.inject({
        method: 'GET',
        url: '/accounts',
        query: { limit: '3', ...(cursor ? { cursor } : {}) },
        headers,
      })
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json() as { accounts: { account: string }[]; next_cursor: string | null }
      assert.ok(body.accounts.length <= 3)
      seen.push(...body.accounts.map((a) => a.account))
      cursor = body.next_cursor
      if (cursor === null) break
    }
    assert.equal(cursor, null, 'the walk ends')
    assert.deepEqual(seen, ['billing', ...Array.from({ length: 10 }, (_, i) => `zz-0${i}`)])
  })
})

describe('public routes', () => {
  test('/healthz, /readyz and /metrics need no token, and ignore a bad one', async (t) => {
    const { app } = await appWith(t)
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url)
      assert.equal((await app.inject({ method: 'GET', url, headers: auth('garbage') })).statusCode, 200, `${url} with a bad token`)
    }
    // the callback is authenticated by its state, not a JWT
    for (const headers of [{}, auth('garbage')]) {
      assertError(await app.inject({ method: 'GET', url: '/connect/callback?state=unknown-state&code=x', headers }), 400, 'INVALID_STATE')
    }
  })
})

test('caller tokens never appear in logs, at any level', async (t) => {
  for (const level of ['info', 'trace']) {
    const { app, logs } = await appWith(t, { LOG_LEVEL: level })
    const good = callerToken()
    const wrong = callerToken({ secret: 'another-secret-0123456789abcdef012345' })
    const expired = makeJwt(hs(), claims({ exp: nowSeconds() - 10 }))
    const forbidden = callerToken({ scopes: ['tokens:revoke'] })
    for (const token of [good, wrong, expired, forbidden]) {
      await app.inject({ method: 'GET', url: '/providers', headers: auth(token) })
      await app.inject({ method: 'GET', url: '/accounts/nobody', headers: auth(token) })
      await app.inject({
        method: 'PUT',
        url: '/accounts/x',
        headers: { ...auth(token), 'content-type': 'text/plain' },
        payload: 'not json',
      })
      await app.inject({ method: 'GET', url: '/nope', headers: auth(token) })
    }
    assert.ok(logs.lines.length > 0, 'something was logged')
    for (const token of [good, wrong, expired, forbidden]) {
      assert.ok(!logs.text.includes(token), `${level}: a caller token leaked into the logs`)
      assert.ok(!logs.text.includes(token.split('.')[2]!), `${level}: a token signature leaked into the logs`)
      assert.ok(!logs.text.includes(token.split('.')[1]!), `${level}: a token payload leaked into the logs`)
    }
    assert.ok(!logs.text.includes(TEST_JWT_SECRET), 'the JWT secret is never logged')
  }
})

function tamper(token: string, extra: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const body = { ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), ...extra }
  return `${header}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${signature}`
}

/** A valid signature under an algorithm the broker does not allow (HS384, same secret). */
function hs384(payload: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS384', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${input}.${createHmac('sha384', TEST_JWT_SECRET).update(input).digest('base64url')}`
}
