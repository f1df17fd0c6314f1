import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { memoryStorage } from '../../src/store/index.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { bearer } from '../helpers/app.js'
import { brokerForOp, callbackPath, startOp } from '../helpers/brokers.js'
import type { OidcServer } from '../helpers/oidc-provider.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

let op: OidcServer
let redis: RedisServer
before(async () => {
  op = await startOp()
  redis = await startRedis()
})
after(async () => {
  await op.close()
  await redis.stop()
})

const connect = (app: import('fastify').FastifyInstance, account: string, extra: Record<string, unknown> = {}) =>
  app.inject({ method: 'POST', url: '/connect/op', headers: bearer(), payload: { account, ...extra } })

describe('linking against a real authorization server', () => {
  test('the full flow stores a grant whose access token the provider accepts', async (t) => {
    const { app, logs } = await brokerForOp(op, { redis })
    t.after(() => app.close())
    const started = await connect(app, 'crm-prod')
    assert.equal(started.statusCode, 201)
    const { authorization_url: authorizationUrl, state, expires_at: expiresAt } = started.json()
    const sent = new URL(authorizationUrl)
    assert.equal(sent.origin, op.issuer)
    assert.equal(sent.searchParams.get('state'), state)
    assert.equal(sent.searchParams.get('code_challenge_method'), 'S256')
    assert.match(sent.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(sent.searchParams.get('redirect_uri'), 'http://127.0.0.1:18555/connect/callback')
    assert.ok(Date.parse(expiresAt) > Date.now() + 9 * 60_000)

    const redirect = await op.authorize(authorizationUrl)
    assert.equal(redirect.searchParams.get('iss'), op.issuer)
    const code = redirect.searchParams.get('code')!
    const callback = await app.inject({ method: 'GET', url: callbackPath(redirect), headers: { accept: 'application/json' } })
    assert.equal(callback.statusCode, 200)
    const linked = callback.json()
    assert.deepEqual(Object.keys(linked).sort(), ['account', 'expires_at', 'provider', 'scope', 'status'])
    assert.equal(linked.account, 'crm-prod')
    assert.equal(linked.provider, 'op')
    assert.equal(linked.status, 'linked')
    assert.equal(op.grantCounts.authorization_code, 1)

    const access = await app.inject({ method: 'GET', url: '/tokens/crm-prod/access', headers: bearer() })
    assert.equal(access.statusCode, 200)
    const userinfo = await op.userinfo(access.json().access_token)
    assert.equal(userinfo.status, 200)

    const meta = (await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: bearer() })).json()
    assert.equal(meta.status, 'active')
    assert.equal(meta.provider, 'op')
    // Neither the code nor the state nor any token reached the logs.
    for (const secret of [code, state, access.json().access_token]) assert.ok(!logs.text.includes(secret))

    const reuse = await app.inject({ method: 'GET', url: callbackPath(redirect), headers: { accept: 'application/json' } })
    assert.equal(reuse.statusCode, 400)
    assert.equal(reuse.json().code, 'INVALID_STATE')
    assert.equal(op.grantCounts.authorization_code, 1)
  })

  test('a tampered or unknown state is INVALID_STATE, and nothing is exchanged', async (t) => {
    const { app } = await brokerForOp(op)
    t.after(() => app.close())
    const { authorization_url: url } = (await connect(app, 'tamper')).json()
    const redirect = await op.authorize(url)
    const before = op.grantCounts.authorization_code ?? 0
    const state = redirect.searchParams.get('state')!
    redirect.searchParams.set('state', (state[0] === 'A' ? 'B' : 'A') + state.slice(1))
    const res = await app.inject({ method: 'GET', url: callbackPath(redirect) })
    assert.equal(res.statusCode, 400)
    assert.deepEqual(res.json(), { statusCode: 400, code: 'INVALID_STATE', error: 'Bad Request', message: res.json().message })
    assert.equal(op.grantCounts.authorization_code ?? 0, before)
    assert.equal((await app.inject({ method: 'GET', url: '/accounts/tamper', headers: bearer() })).statusCode, 404)
  })

  test('a state older than 10 minutes has expired', async (t) => {
    let now = Date.now()
    const clock = () => now
    const { app } = await brokerForOp(op, { deps: { storage: memoryStorage({ grants: new MemoryStore(clock), clock }), clock } })
    t.after(() => app.close())
    const { authorization_url: url } = (await connect(app, 'late')).json()
    const redirect = await op.authorize(url)
    now += 10 * 60_000 + 1000
    const res = await app.inject({ method: 'GET', url: callbackPath(redirect) })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().code, 'INVALID_STATE')
  })

  test('a mismatching or missing iss is rejected before any code exchange', async (t) => {
    const { app } = await brokerForOp(op)
    t.after(() => app.close())
    const before = op.grantCounts.authorization_code ?? 0
    for (const change of ['evil', 'missing'] as const) {
      const { authorization_url: url } = (await connect(app, `iss-${change}`)).json()
      const redirect = await op.authorize(url)
      if (change === 'evil') redirect.searchParams.set('iss', 'https://evil.example')
      else redirect.searchParams.delete('iss')
      const res = await app.inject({ method: 'GET', url: callbackPath(redirect) })
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().code, 'ISSUER_MISMATCH')
    }
    assert.equal(op.grantCounts.authorization_code ?? 0, before)
  })

  test('access_denied is AUTHORIZATION_DENIED and stores nothing', async (t) => {
    const { app } = await brokerForOp(op)
    t.after(() => app.close())
    const { authorization_url: url } = (await connect(app, 'denied')).json()
    const redirect = await op.authorize(url, { deny: true })
    assert.equal(redirect.searchParams.get('error'), 'access_denied')
    const res = await app.inject({ method: 'GET', url: callbackPath(redirect) })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().code, 'AUTHORIZATION_DENIED')
    assert.equal((await app.inject({ method: 'GET', url: '/accounts/denied', headers: bearer() })).statusCode, 404)
  })

  test('relinking replaces the grant and revives a reauth_required account; another provider conflicts', async (t) => {
    const { app } = await brokerForOp(op, {
      env: { RETURN_TO_ALLOWLIST: 'https://admin.example/done' },
      providers: {
        other: { template: 'oauth2', authorization_url: 'http://127.0.0.1:9/a', token_url: 'http://127.0.0.1:9/t', client_id: 'x' },
      },
    })
    t.after(() => app.close())
    const link = async () => {
      const { authorization_url: url } = (await connect(app, 'relink')).json()
      return app.inject({ method: 'GET', url: callbackPath(await op.authorize(url)), headers: { accept: 'application/json' } })
    }
    assert.equal((await link()).statusCode, 200)
    const first = (await app.inject({ method: 'GET', url: '/tokens/relink/access', headers: bearer() })).json().access_token
    await app.storage.grants.markReauthRequired(
      'relink',
      null,
      JSON.stringify({ code: 'REFRESH_TOKEN_INVALID', message: 'x', at: new Date().toISOString() }),
      Date.now(),
    )
    assert.equal((await app.inject({ method: 'GET', url: '/tokens/relink/access', headers: bearer() })).statusCode, 409)
    assert.equal((await link()).statusCode, 200)
    const meta = (await app.inject({ method: 'GET', url: '/accounts/relink', headers: bearer() })).json()
    assert.equal(meta.status, 'active')
    assert.equal(meta.last_error, null)
    const second = (await app.inject({ method: 'GET', url: '/tokens/relink/access', headers: bearer() })).json().access_token
    assert.notEqual(second, first)

    const conflict = await app.inject({ method: 'POST', url: '/connect/other', headers: bearer(), payload: { account: 'relink' } })
    assert.equal(conflict.statusCode, 409)
    assert.equal(conflict.json().code, 'ACCOUNT_CONFLICT')

    // return_to: a 303 back to the admin UI; a prefix outside the allow-list is refused.
    const { authorization_url: url } = (await connect(app, 'back', { return_to: 'https://admin.example/done?x=1' })).json()
    const back = await app.inject({ method: 'GET', url: callbackPath(await op.authorize(url)) })
    assert.equal(back.statusCode, 303)
    const location = new URL(back.headers.location as string)
    assert.equal(location.origin + location.pathname, 'https://admin.example/done')
    assert.equal(location.searchParams.get('account'), 'back')
    assert.equal(location.searchParams.get('status'), 'linked')
    const refused = await connect(app, 'nope', { return_to: 'https://evil.example/' })
    assert.equal(refused.statusCode, 400)
    assert.equal(refused.json().code, 'VALIDATION_ERROR')
  })

  test('a browser gets a small HTML page without any token', async (t) => {
    const { app } = await brokerForOp(op)
    t.after(() => app.close())
    const { authorization_url: url } = (await connect(app, 'html')).json()
    const res = await app.inject({ method: 'GET', url: callbackPath(await op.authorize(url)), headers: { accept: 'text/html' } })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/)
    assert.match(res.body, /Account linked/)
    assert.match(res.body, /html/)
    const token = (await app.inject({ method: 'GET', url: '/tokens/html/access', headers: bearer() })).json().access_token
    assert.ok(!res.body.includes(token))
    const failed = await app.inject({ method: 'GET', url: callbackPath(await op.authorize(url)), headers: { accept: 'text/html' } })
    assert.equal(failed.statusCode, 400)
    assert.match(failed.body, /Linking failed/)
    assert.match(failed.body, /INVALID_STATE/)
  })
})
