import assert from 'node:assert/strict'
import { createServer as createTcpServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import type { AppDeps } from '../../src/app.js'
import { isAllowedDiscoveredUrl } from '../../src/providers/endpoints.js'
import { bearer, testApp } from '../helpers/app.js'
import { storeApp } from '../helpers/brokers.js'
import { json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { assertError, manualClock } from '../http/support.js'

const writer = bearer({ scopes: ['accounts:write'] })

/** A TCP port that counts every connection made to it (a stand-in for a local Redis). */
async function trapPort(t: import('node:test').TestContext) {
  const sockets: Socket[] = []
  const server = createTcpServer((socket) => {
    sockets.push(socket)
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, connections: () => sockets.length }
}

function discovery(stub: StubProvider, endpoints: Record<string, string> = {}) {
  stub.handle('/.well-known/openid-configuration', (_req, res) =>
    json(res, 200, {
      issuer: stub.url,
      authorization_endpoint: `${stub.url}/auth`,
      token_endpoint: `${stub.url}/token`,
      ...endpoints,
    }),
  )
}

function oidcBroker(t: import('node:test').TestContext, issuer: string, extra: Record<string, unknown> = {}, deps: AppDeps = {}) {
  const idp = { template: 'oidc', issuer, client_id: 'cid', client_secret: 'client-secret-value', ...extra }
  return testApp({ providers: { idp }, deps, t })
}

const connect = (app: import('fastify').FastifyInstance, body: Record<string, unknown> = { account: 'crm' }) =>
  app.inject({ method: 'POST', url: '/connect/idp', headers: writer, payload: body })

describe('endpoints named by OIDC discovery are held to the issuer (SSRF)', () => {
  test('the rule: https on the issuer host, or a host in allowed_hosts; http only from a loopback issuer to loopback', () => {
    const remote = 'https://idp.partner.example'
    assert.equal(isAllowedDiscoveredUrl(remote, 'https://idp.partner.example/token', []), true)
    assert.equal(isAllowedDiscoveredUrl(remote, 'http://127.0.0.1:6379/', []), false)
    assert.equal(
      isAllowedDiscoveredUrl(remote, 'http://127.0.0.1:6379/', ['127.0.0.1:6379']),
      false,
      'no http from a remote issuer, even listed',
    )
    assert.equal(isAllowedDiscoveredUrl(remote, 'http://idp.partner.example/token', []), false)
    assert.equal(isAllowedDiscoveredUrl(remote, 'https://idp.partner.example:8443/token', []), false)
    assert.equal(isAllowedDiscoveredUrl(remote, 'https://evil.example/token', []), false)
    assert.equal(isAllowedDiscoveredUrl(remote, 'https://oauth2.partner-apis.example/token', ['oauth2.partner-apis.example']), true)
    assert.equal(isAllowedDiscoveredUrl(remote, 'https://user:pw@idp.partner.example/token', []), false)
    assert.equal(isAllowedDiscoveredUrl(remote, 'https://idp.partner.example.evil.example/token', []), false)
    assert.equal(isAllowedDiscoveredUrl('http://127.0.0.1:4000', 'http://127.0.0.1:4000/token', []), true)
    assert.equal(isAllowedDiscoveredUrl('http://127.0.0.1:4000', 'http://127.0.0.1:6379/', []), false)
    assert.equal(isAllowedDiscoveredUrl('http://127.0.0.1:4000', 'http://127.0.0.1:6379/', ['127.0.0.1:6379']), true)
  })

  test('a discovery document naming a local port as token endpoint: 502 at /connect, and nothing is sent there', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    const trap = await trapPort(t)
    discovery(stub, { token_endpoint: `http://127.0.0.1:${trap.port}/`, revocation_endpoint: `http://127.0.0.1:${trap.port}/revoke` })
    const { app } = await oidcBroker(t, stub.url)
    assertError(await connect(app), 502, 'PROVIDER_ERROR')
    assert.equal(trap.connections(), 0)

    const listed = await oidcBroker(t, stub.url, { allowed_hosts: [`127.0.0.1:${trap.port}`] })
    assert.equal((await connect(listed.app)).statusCode, 201, 'a host the providers file lists is accepted')
  })
})

describe('discovery failures at the edge are 502/503, never 500', () => {
  test('unreachable, 5xx, invalid document and issuer mismatch at POST /connect', async (t) => {
    const closed = await trapPort(t)
    const down = await oidcBroker(t, `http://127.0.0.1:${closed.port}`)
    assertError(await connect(down.app), 503, 'PROVIDER_UNAVAILABLE')
    assert.match(String((await connect(down.app)).headers['retry-after']), /^\d+$/)

    const stub = await startStubProvider()
    t.after(() => stub.close())
    const { app } = await oidcBroker(t, stub.url)
    stub.handle('/.well-known/openid-configuration', (_req, res) => json(res, 500, { error: 'boom' }))
    const fiveHundred = await connect(app)
    assertError(fiveHundred, 503, 'PROVIDER_UNAVAILABLE')
    assert.match(String(fiveHundred.headers['retry-after']), /^\d+$/)
    stub.handle(
      '/.well-known/openid-configuration',
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{not json'),
    )
    assertError(await connect(app), 502, 'PROVIDER_ERROR')
    stub.handle('/.well-known/openid-configuration', (_req, res) =>
      json(res, 200, { issuer: 'https://someone.else', authorization_endpoint: `${stub.url}/a`, token_endpoint: `${stub.url}/t` }),
    )
    assertError(await connect(app), 502, 'PROVIDER_ERROR')
    discovery(stub)
    assert.equal((await connect(app)).statusCode, 201)
  })

  test('a discovery failure at the callback is 503, and the account is not stored', async (t) => {
    const stub = await startStubProvider()
    t.after(() => stub.close())
    discovery(stub)
    const clock = manualClock(Date.now())
    const { app } = await oidcBroker(t, stub.url, {}, { clock })
    const { state } = (await connect(app)).json() as { state: string }
    // The cached discovery is an hour old at the callback, and the provider is down now.
    clock.advance(2 * 3600_000)
    stub.handle('/.well-known/openid-configuration', (_req, res) => json(res, 503, {}))
    const res = await app.inject({
      method: 'GET',
      url: `/connect/callback?state=${state}&code=c&iss=${encodeURIComponent(stub.url)}`,
      headers: { accept: 'application/json' },
    })
    assertError(res, 503, 'PROVIDER_UNAVAILABLE')
    assert.equal(stub.count('/token'), 0)
    assert.equal((await app.inject({ method: 'GET', url: '/accounts/crm', headers: bearer() })).statusCode, 404)
  })
})

describe('RETURN_TO_ALLOWLIST matches parsed, normalized URLs', () => {
  const allowlist = 'https://good.example,https://ok.example/app'

  test('look-alike hosts, userinfo, encoded dots and dot segments are refused; URLs new URL refuses are 400 at /connect', async (t) => {
    const { app } = await storeApp(t, 'memory', null, { env: { RETURN_TO_ALLOWLIST: allowlist } })
    const start = (returnTo: string) =>
      app.inject({ method: 'POST', url: '/connect/acme', headers: writer, payload: { account: 'crm', return_to: returnTo } })
    for (const evil of [
      'https://good.example.evil.com/',
      'https://good.example@evil.com/',
      'https://good.example%2eevil.com/',
      'https://ok.example/app/../../evil',
      'https://ok.example/app/%2e%2e/evil',
      'https://ok.example/application',
      'https://ok.example/',
      'http://good.example/',
      'https://good.example:8443/',
      'https://user:pw@good.example/',
      'https://ok.example/app\\..\\evil',
      'javascript:alert(1)//good.example',
    ]) {
      assertError(await start(evil), 400, 'VALIDATION_ERROR', /return_to/)
    }
    for (const unparsable of ['https://x:99999/', 'http://1.2.3.4.5/']) {
      assertError(await start(unparsable), 400, 'VALIDATION_ERROR', /return_to/)
    }
    for (const fine of [
      'https://good.example',
      'https://GOOD.example:443/any/path?x=1',
      'https://ok.example/app',
      'https://ok.example/app/',
      'https://ok.example/app/done?tab=2',
      'https://ok.example/app/x/../done',
    ]) {
      assert.equal((await start(fine)).statusCode, 201, fine)
    }
  })
})
