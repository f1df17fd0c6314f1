import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { startOidcProvider, type OidcServer } from './oidc-provider.js'
import { waitUntil } from './wait.js'

function pkce() {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** An authorization URL as a client (the broker) would build it. */
function authorizationUrl(srv: OidcServer, state: string, challenge: string, scope = 'openid email'): string {
  const u = new URL(srv.endpoints.authorization)
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: srv.clientId,
    redirect_uri: srv.redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString()
  return u.href
}

/** The token endpoint's answer to an authorization code. */
async function exchange(srv: OidcServer, code: string, verifier: string) {
  const res = await fetch(srv.endpoints.token, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${srv.clientId}:${srv.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: srv.redirectUri, code_verifier: verifier }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, string> }
}

/** A browser's part, without a browser: requests that carry the cookies the server set, no redirects followed. */
function cookieCarrier() {
  const cookies = new Map<string, string>()
  return async (url: string | URL, init: { method?: string; form?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded'
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.form && new URLSearchParams(init.form),
      redirect: 'manual',
    })
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]
      if (value) cookies.set(name, value)
      else cookies.delete(name)
    }
    return { status: res.status, location: res.headers.get('location'), text: await res.text() }
  }
}

describe('oidc-provider harness (defaults: rotation on, client_secret_basic)', () => {
  let srv: OidcServer
  // a real listener behind the redirect URI proves authorize() never requests it
  const callbackHits: string[] = []
  const callback = createServer((req, res) => {
    callbackHits.push(req.url ?? '')
    res.end('ok')
  })

  before(async () => {
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve))
    const cbPort = (callback.address() as AddressInfo).port
    srv = await startOidcProvider({ redirectUri: `http://127.0.0.1:${cbPort}/oauth/callback` })
  })
  after(async () => {
    await srv?.close()
    await new Promise<void>((resolve) => {
      callback.closeAllConnections()
      callback.close(() => resolve())
    })
  })

  it('serves discovery with the expected endpoints and the RFC 9207 iss flag', async () => {
    assert.match(srv.issuer, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(srv.issuer, `http://127.0.0.1:${srv.port}`)
    const res = await fetch(`${srv.issuer}/.well-known/openid-configuration`)
    assert.equal(res.status, 200)
    const d = (await res.json()) as Record<string, unknown>
    assert.equal(d.issuer, srv.issuer)
    assert.equal(d.authorization_endpoint, `${srv.issuer}/auth`)
    assert.equal(d.token_endpoint, `${srv.issuer}/token`)
    assert.equal(d.userinfo_endpoint, `${srv.issuer}/me`)
    assert.equal(d.introspection_endpoint, `${srv.issuer}/token/introspection`)
    assert.equal(d.revocation_endpoint, `${srv.issuer}/token/revocation`)
    assert.equal(d.authorization_response_iss_parameter_supported, true)
    assert.deepEqual(d.code_challenge_methods_supported, ['S256'])
    assert.ok((d.grant_types_supported as string[]).includes('refresh_token'))
    assert.equal(d.token_endpoint, srv.endpoints.token)
    assert.equal(d.introspection_endpoint, srv.endpoints.introspection)
    assert.equal(d.revocation_endpoint, srv.endpoints.revocation)
  })

  it('authorize() walks login + consent and returns the callback URL (code, state, iss) without requesting it', async () => {
    srv.resetCounts()
    const { verifier, challenge } = pkce()
    const cb = await srv.authorize(authorizationUrl(srv, 'st-1', challenge), { login: 'bob' })
    assert.equal(`${cb.origin}${cb.pathname}`, srv.redirectUri)
    assert.equal(cb.searchParams.get('state'), 'st-1')
    assert.equal(cb.searchParams.get('iss'), srv.issuer)
    assert.equal(callbackHits.length, 0)
    const interactions = Object.entries(srv.counts).filter(([path, n]) => path.startsWith('/interaction/') && n > 0)
    assert.deepEqual(
      interactions.map(([, n]) => n),
      [1, 1],
      'one interaction for the login, one for the consent',
    )
    // the code is bob's, for the scopes asked
    const tokens = await exchange(srv, cb.searchParams.get('code') ?? '', verifier)
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body))
    assert.equal(tokens.body.scope, 'openid email')
    assert.deepEqual((await srv.userinfo(tokens.body.access_token!)).body, { sub: 'bob', email: 'bob@example.test', email_verified: true })
  })

  it('without a scripted choice the interaction route serves a sign-in form, then a consent form (for browsers)', async () => {
    const { verifier, challenge } = pkce()
    const browser = cookieCarrier()
    const start = await browser(authorizationUrl(srv, 'st-browser', challenge))
    assert.equal(start.status, 303)
    const login = new URL(start.location!, srv.issuer)
    assert.match(login.pathname, /^\/interaction\/[\w-]+$/)
    const signIn = await browser(login)
    assert.equal(signIn.status, 200)
    assert.match(signIn.text, /<input name="login"/)
    assert.match(signIn.text, /<input name="password" type="password">/)
    const signedIn = await browser(login, { method: 'POST', form: { login: 'carol', password: 'any' } })
    assert.equal(signedIn.status, 303)
    const consent = new URL((await browser(new URL(signedIn.location!, srv.issuer))).location!, srv.issuer)
    assert.notEqual(consent.pathname, login.pathname, 'consent is an interaction of its own')
    const consentPage = await browser(consent)
    assert.equal(consentPage.status, 200)
    assert.match(consentPage.text, /token-broker-test asks for: openid email/)
    const consented = await browser(consent, { method: 'POST', form: {} })
    const cb = new URL((await browser(new URL(consented.location!, srv.issuer))).location!)
    assert.equal(`${cb.origin}${cb.pathname}`, srv.redirectUri)
    assert.equal(cb.searchParams.get('state'), 'st-browser')
    const tokens = await exchange(srv, cb.searchParams.get('code') ?? '', verifier)
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body))
    assert.equal(((await srv.userinfo(tokens.body.access_token!)).body as { sub: string }).sub, 'carol')
  })

  it('a browser that cancels on the sign-in form gets access_denied', async () => {
    const browser = cookieCarrier()
    const login = new URL((await browser(authorizationUrl(srv, 'st-cancel', pkce().challenge))).location!, srv.issuer)
    const aborted = await browser(`${login.href}/abort`)
    assert.equal(aborted.status, 303)
    const cb = new URL((await browser(new URL(aborted.location!, srv.issuer))).location!)
    assert.equal(cb.searchParams.get('error'), 'access_denied')
    assert.equal(cb.searchParams.get('state'), 'st-cancel')
  })

  it('rejects an authorization request without PKCE (PKCE is required)', async () => {
    const u = new URL(authorizationUrl(srv, 'st-2', 'x'))
    u.searchParams.delete('code_challenge')
    u.searchParams.delete('code_challenge_method')
    const cb = await srv.authorize(u.href)
    assert.equal(cb.searchParams.get('error'), 'invalid_request')
    assert.match(cb.searchParams.get('error_description') ?? '', /PKCE/)
  })

  it('deny: aborting the interaction redirects with error=access_denied', async () => {
    const { challenge } = pkce()
    const cb = await srv.authorize(authorizationUrl(srv, 'st-deny', challenge), { deny: true })
    assert.equal(`${cb.origin}${cb.pathname}`, srv.redirectUri)
    assert.equal(cb.searchParams.get('error'), 'access_denied')
    assert.equal(cb.searchParams.get('state'), 'st-deny')
    assert.equal(cb.searchParams.get('iss'), srv.issuer)
    assert.equal(cb.searchParams.get('code'), null)
    assert.equal(callbackHits.length, 0)
  })

  it('grant lifecycle: tokens, userinfo, rotation, reuse -> invalid_grant + grant family revoked, counts', async () => {
    srv.resetCounts()
    assert.equal(srv.counts['/token'], 0)
    assert.equal(srv.grantCounts.refresh_token, 0)

    const g = await srv.obtainGrant()
    assert.equal(typeof g.access_token, 'string')
    assert.equal(typeof g.refresh_token, 'string')
    assert.equal(g.token_type, 'Bearer')
    assert.equal(g.expires_in, 3600)
    assert.equal(g.scope, 'openid email')
    assert.equal(typeof g.id_token, 'string')
    assert.equal(g.access_token.split('.').length, 1, 'opaque access token, not a JWT')
    assert.equal(srv.counts['/token'], 1)
    assert.equal(srv.grantCounts.authorization_code, 1)

    const ui = await srv.userinfo(g.access_token)
    assert.equal(ui.status, 200)
    assert.deepEqual(ui.body, { sub: 'alice', email: 'alice@example.test', email_verified: true })

    const intro = await srv.introspect(g.refresh_token)
    assert.equal(intro.active, true)
    assert.equal(intro.client_id, srv.clientId)
    assert.equal(intro.sub, 'alice')

    // rotation
    const r1 = await srv.refreshDirect(g.refresh_token)
    assert.equal(r1.status, 200, JSON.stringify(r1.body))
    const rt2 = r1.body.refresh_token as string
    const at2 = r1.body.access_token as string
    assert.equal(typeof rt2, 'string')
    assert.notEqual(rt2, g.refresh_token)
    assert.notEqual(at2, g.access_token)
    assert.equal((await srv.introspect(rt2)).active, true)
    assert.equal((await srv.introspect(g.refresh_token)).active, false, 'a rotated (consumed) refresh token is inactive')
    assert.equal((await srv.userinfo(at2)).status, 200)
    assert.equal((await srv.introspect(g.access_token)).active, true, 'rotation alone does not revoke earlier access tokens')

    // reuse of the rotated token
    const reuse = await srv.refreshDirect(g.refresh_token)
    assert.equal(reuse.status, 400)
    assert.equal(reuse.body.error, 'invalid_grant')

    // ...revokes the whole grant: the newer refresh token and all access tokens
    assert.equal((await srv.introspect(rt2)).active, false)
    assert.equal((await srv.introspect(at2)).active, false)
    assert.equal((await srv.introspect(g.access_token)).active, false)
    assert.equal((await srv.userinfo(at2)).status, 401)
    const afterRevoke = await srv.refreshDirect(rt2)
    assert.equal(afterRevoke.status, 400)
    assert.equal(afterRevoke.body.error, 'invalid_grant')

    assert.equal(srv.grantCounts.authorization_code, 1)
    assert.equal(srv.grantCounts.refresh_token, 3)
    assert.equal(srv.grantErrors.refresh_token, 2)
    assert.equal(srv.grantErrors.authorization_code, 0)
    assert.equal(srv.counts['/token'], 4)
    assert.equal(srv.counts['/me'], 3)
    assert.equal(srv.counts['/token/introspection'], 7)

    srv.resetCounts()
    assert.equal(srv.counts['/token'], 0)
    assert.equal(srv.grantCounts.refresh_token, 0)
    assert.equal(srv.grantErrors.refresh_token, 0)
    assert.equal(callbackHits.length, 0)
  })

  it('issues a refresh token for the broker template scope (offline_access is dropped without prompt=consent)', async () => {
    const g = await srv.obtainGrant({ scope: 'openid offline_access' })
    assert.equal(typeof g.refresh_token, 'string')
    assert.equal(g.scope, 'openid')
  })

  it('a code exchange with a wrong code_verifier fails and counts as an authorization_code error', async () => {
    srv.resetCounts()
    const { challenge } = pkce()
    const cb = await srv.authorize(authorizationUrl(srv, 'st-3', challenge))
    const res = await exchange(srv, cb.searchParams.get('code') ?? '', pkce().verifier)
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_grant')
    assert.equal(srv.grantCounts.authorization_code, 1)
    assert.equal(srv.grantErrors.authorization_code, 1)
  })
})

describe('oidc-provider harness options', () => {
  it('accessTokenTtlSeconds: 1 gives 1-second access tokens; once expired, introspection and userinfo agree', async () => {
    const srv = await startOidcProvider({ accessTokenTtlSeconds: 1 })
    try {
      const g = await srv.obtainGrant()
      assert.equal(g.expires_in, 1)
      await waitUntil('the access token to expire', async () => !(await srv.introspect(g.access_token)).active)
      assert.equal((await srv.userinfo(g.access_token)).status, 401)
      const r = await srv.refreshDirect(g.refresh_token)
      assert.equal(r.status, 200)
      assert.equal(r.body.expires_in, 1)
    } finally {
      await srv.close()
    }
  })

  it('rotateRefreshToken: false keeps the refresh token; client_secret_post auth works', async () => {
    const srv = await startOidcProvider({ rotateRefreshToken: false, tokenEndpointAuthMethod: 'client_secret_post' })
    try {
      const g = await srv.obtainGrant({ scope: 'openid' })
      assert.equal(g.scope, 'openid')
      const r1 = await srv.refreshDirect(g.refresh_token)
      assert.equal(r1.status, 200)
      assert.equal(r1.body.refresh_token, g.refresh_token)
      const r2 = await srv.refreshDirect(g.refresh_token)
      assert.equal(r2.status, 200)
      assert.equal(srv.grantCounts.refresh_token, 2)
      assert.equal(srv.grantErrors.refresh_token, 0)
      // oidc-provider treats client_secret_basic and client_secret_post as interchangeable:
      // the basic scheme is accepted for a client registered with client_secret_post
      const basic = await fetch(srv.endpoints.token, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${srv.clientId}:${srv.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: g.refresh_token }),
      })
      assert.equal(basic.status, 200)
    } finally {
      await srv.close()
    }
  })

  it('close() frees the port and is idempotent', async () => {
    const srv = await startOidcProvider()
    await srv.obtainGrant() // leaves keep-alive connections behind
    const { port } = srv
    await srv.close()
    await srv.close()
    await assert.rejects(fetch(`${srv.issuer}/.well-known/openid-configuration`))
    const probe = createServer()
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen(port, '127.0.0.1', resolve)
    })
    await new Promise<void>((resolve) => probe.close(() => resolve()))
  })
})
