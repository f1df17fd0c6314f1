import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'

let stub: StubProvider
before(async () => {
  stub = await startStubProvider()
})
after(async () => {
  await stub.close()
})

async function link(app: import('fastify').FastifyInstance, account: string, provider = 'stub') {
  const started = await app.inject({ method: 'POST', url: `/connect/${provider}`, headers: bearer(), payload: { account } })
  assert.equal(started.statusCode, 201, started.body)
  const url = new URL(started.json().authorization_url)
  const callback = await app.inject({
    method: 'GET',
    url: `/connect/callback?state=${url.searchParams.get('state')}&code=c-${account}`,
    headers: { accept: 'application/json' },
  })
  return { url, callback }
}

test('relinking without a refresh token in the answer keeps the stored one (Google on re-consent)', async (t) => {
  const { app } = await brokerFor(stub)
  t.after(() => app.close())
  let n = 0
  stub.handle('/token', (req, res) => {
    n++
    if (req.body.grant_type === 'authorization_code') {
      return json(res, 200, { access_token: `link-at-${n}`, expires_in: 3600, ...(n === 1 ? { refresh_token: 'first-rt' } : {}) })
    }
    return json(res, 200, { access_token: `refreshed-${n}`, expires_in: 3600 })
  })
  assert.equal((await link(app, 'regoogle')).callback.statusCode, 200)
  assert.equal((await link(app, 'regoogle')).callback.statusCode, 200)
  assert.equal((await app.inject({ method: 'GET', url: '/tokens/regoogle/access', headers: bearer() })).json().access_token, 'link-at-2')
  await app.inject({ method: 'POST', url: '/tokens/regoogle/refresh', headers: bearer() })
  const refresh = stub.requests.find((r) => r.body.grant_type === 'refresh_token')!
  assert.equal(refresh.body.refresh_token, 'first-rt')
})

test('a failed code exchange is 502 PROVIDER_ERROR and stores nothing; a provider outage is 503', async (t) => {
  const { app } = await brokerFor(stub)
  t.after(() => app.close())
  stub.handle('/token', (_req, res) => json(res, 400, { error: 'invalid_grant' }))
  const failed = await link(app, 'bad-code')
  assert.equal(failed.callback.statusCode, 502)
  assert.equal(failed.callback.json().code, 'PROVIDER_ERROR')
  stub.handle('/token', (_req, res) => json(res, 503, {}))
  const down = await link(app, 'down')
  assert.equal(down.callback.statusCode, 503)
  assert.equal(down.callback.json().code, 'PROVIDER_UNAVAILABLE')
  for (const account of ['bad-code', 'down']) {
    assert.equal((await app.inject({ method: 'GET', url: `/accounts/${account}`, headers: bearer() })).statusCode, 404)
  }
})

test('the template decides the authorization request: Slack user scopes, Google offline access, GitHub without PKCE if told', async (t) => {
  const { app } = await brokerFor(stub, { provider: { template: 'slack', scopes: ['chat:write', 'users:read'] } })
  t.after(() => app.close())
  const started = await app.inject({ method: 'POST', url: '/connect/stub', headers: bearer(), payload: { account: 'slacky' } })
  const url = new URL(started.json().authorization_url)
  assert.equal(url.origin + url.pathname, `${stub.url}/authorize`)
  assert.equal(url.searchParams.get('user_scope'), 'chat:write,users:read')
  assert.equal(url.searchParams.get('scope'), null)

  const google = await brokerFor(stub, { provider: { template: 'google', pkce: false } })
  t.after(() => google.app.close())
  const g = new URL(
    (await google.app.inject({ method: 'POST', url: '/connect/stub', headers: bearer(), payload: { account: 'g' } })).json()
      .authorization_url,
  )
  assert.equal(g.searchParams.get('access_type'), 'offline')
  assert.equal(g.searchParams.get('prompt'), 'consent')
  assert.equal(g.searchParams.get('code_challenge'), null)
})

test('a callback without a state, or with one the broker never issued, is INVALID_STATE', async (t) => {
  const { app } = await brokerFor(stub)
  t.after(() => app.close())
  for (const query of [
    'code=abc',
    'state=&code=abc',
    'state=not%20ours!&code=abc',
    `state=${'x'.repeat(300)}&code=abc`,
    'state=AAAA&error=access_denied',
  ]) {
    const res = await app.inject({ method: 'GET', url: `/connect/callback?${query}` })
    assert.equal(res.statusCode, 400, query)
    assert.deepEqual(res.json(), {
      statusCode: 400,
      code: 'INVALID_STATE',
      error: 'Bad Request',
      message: 'The state is unknown, expired or already used',
    })
  }
})
