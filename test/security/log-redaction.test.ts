import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer, testApp } from '../helpers/app.js'
import { json, startStubProvider } from '../helpers/stub-provider.js'

test('error logs keep their error codes; the OAuth code parameter is redacted wherever it travels', async (t) => {
  const stub = await startStubProvider()
  t.after(() => stub.close())
  stub.handle('/.well-known/openid-configuration', (_req, res) => json(res, 503, {}))
  const idp = { template: 'oidc', issuer: stub.url, client_id: 'cid', client_secret: 'client-secret-value' }
  const { app, logs } = await testApp({ providers: { idp } })
  t.after(() => app.close())

  const res = await app.inject({ method: 'POST', url: '/connect/idp', headers: bearer(), payload: { account: 'crm' } })
  assert.equal(res.statusCode, 503)
  const failed = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request failed')
  assert.ok(failed, logs.text)
  assert.equal(failed.code, 'PROVIDER_UNAVAILABLE')
  assert.ok(!logs.text.includes('[redacted]'), 'nothing else was redacted')

  // Wherever a log object carries the OAuth code (a request's query or body), it is hidden.
  const code = 'oauth-code-SplxlOBeZQQYbYS6WxSbIA'
  app.log.warn({ query: { code, state: 's' }, body: { code, grant_type: 'authorization_code' }, req: { query: { code } } }, 'probe')
  assert.ok(!logs.text.includes(code), logs.text)
  const probe = JSON.parse(logs.lines.at(-1)!) as { query: { code: string }; body: { code: string; grant_type: string } }
  assert.equal(probe.query.code, '[redacted]')
  assert.equal(probe.body.grant_type, 'authorization_code')
})
