/**
 * The HTML pages of GET /connect/callback carry @fastify/helmet's security headers: a CSP
 * that allows nothing but the page's inline style, no Referer, no framing, no caching.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test, type TestContext } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { bearer, testApp } from '../helpers/app.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { assertError } from './support.js'

const CSP = "default-src 'none';style-src 'unsafe-inline';base-uri 'none';form-action 'none';frame-ancestors 'none'"

function assertErrorRes(res: LightMyRequestResponse, status: number, code: string): LightMyRequestResponse {
  assertError(res, status, code)
  return res
}

function assertPageHeaders(res: LightMyRequestResponse, what: string): void {
  const h = res.headers
  assert.equal(h['content-security-policy'], CSP, `${what}: CSP`)
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`)
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: X-Content-Type-Options`)
  assert.equal(h['x-frame-options'], 'DENY', `${what}: X-Frame-Options`)
  assert.equal(h['cross-origin-opener-policy'], 'same-origin', `${what}: COOP`)
  assert.equal(h['strict-transport-security'], undefined, `${what}: no HSTS on an http PUBLIC_URL`)
}

describe('HTML pages of /connect/callback', () => {
  let stub: StubProvider
  before(async () => {
    stub = await startStubProvider()
    stub.handle('/token', rotatingTokens('html-'))
  })
  after(() => stub.close())

  async function appWith(t: TestContext, env: Record<string, string> = {}) {
    const { app } = await testApp({ providers: loopbackProviders({ acmeTokenUrl: `${stub.url}/token` }), env: { ...env } })
    t.after(() => app.close())
    return app
  }

  async function startLink(app: FastifyInstance, account: string): Promise<string> {
    const res = await app.inject({ method: 'POST', url: '/connect/acme', headers: bearer(), payload: { account } })
    assert.equal(res.statusCode, 201, res.body)
    return (res.json() as { state: string }).state
  }

  test('the success page', async (t) => {
    const app = await appWith(t)
    const state = await startLink(app, 'html-page')
    const res = await app.inject({ method: 'GET', url: `/connect/callback?state=${state}&code=the-code`, headers: { accept: 'text/html' } })
    assert.equal(res.statusCode, 200, res.body)
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/)
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.match(res.body, /Account linked/)
    assert.ok(!res.body.includes('html-at-'), 'no token on the page')
    assertPageHeaders(res, 'success page')
  })

  test('the error page, and the same error as JSON', async (t) => {
    const app = await appWith(t)
    const page = await app.inject({ method: 'GET', url: '/connect/callback?state=unknown', headers: { accept: 'text/html' } })
    assert.equal(page.statusCode, 400)
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/)
    assert.equal(page.headers['cache-control'], 'no-store')
    assert.match(page.body, /Linking failed/)
    assert.match(page.body, /INVALID_STATE/)
    assertPageHeaders(page, 'error page')

    for (const headers of [{}, { accept: 'application/json' }, { accept: 'text/html, application/json' }]) {
      const res = await app.inject({ method: 'GET', url: '/connect/callback?state=unknown', headers })
      assertError(res, 400, 'INVALID_STATE')
      assertPageHeaders(res, `JSON error with ${JSON.stringify(headers)}`)
    }
    // a malformed state: JSON in the contract's shape too
    assertPageHeaders(
      assertErrorRes(await app.inject({ method: 'GET', url: '/connect/callback?state=bad%20state' }), 400, 'INVALID_STATE'),
      'malformed state',
    )
  })

  test('HSTS is sent when PUBLIC_URL is https', async (t) => {
    const app = await appWith(t, { PUBLIC_URL: 'https://broker.example.test' })
    const res = await app.inject({ method: 'GET', url: '/connect/callback?state=unknown', headers: { accept: 'text/html' } })
    assert.equal(res.statusCode, 400)
    assert.match(String(res.headers['strict-transport-security']), /^max-age=\d+/)
    assert.equal(res.headers['content-security-policy'], CSP)
  })

  test('the JSON API routes do not get the page headers (helmet is per route)', async (t) => {
    const app = await appWith(t)
    for (const res of [
      await app.inject({ method: 'GET', url: '/healthz' }),
      await app.inject({ method: 'GET', url: '/providers', headers: bearer() }),
    ]) {
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['content-security-policy'], undefined)
    }
  })
})
