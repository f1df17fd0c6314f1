import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer, testApp } from '../helpers/app.js'

test('GET /providers lists names, templates, scopes, PKCE and revocation support, and never a secret', async (t) => {
  const { app, logs } = await testApp({
    providers: {
      google: { template: 'google', client_id: 'google-client-id', client_secret: 'google-secret-value-1' },
      acme: {
        template: 'oauth2',
        authorization_url: 'https://id.acme.test/auth',
        token_url: 'https://id.acme.test/token',
        client_id: 'acme-client',
        client_secret: ['acme-secret-new', 'acme-secret-old'],
        scopes: ['read', 'write'],
        pkce: false,
      },
    },
  })
  t.after(() => app.close())
  for (const scope of ['accounts:read', 'accounts:write']) {
    const res = await app.inject({ method: 'GET', url: '/providers', headers: bearer({ scopes: [scope] }) })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), {
      providers: [
        { name: 'google', template: 'google', scopes: ['openid', 'email'], pkce: true, revocation: true },
        { name: 'acme', template: 'oauth2', scopes: ['read', 'write'], pkce: false, revocation: false },
      ],
    })
    for (const secret of ['google-secret-value-1', 'acme-secret-new', 'acme-secret-old']) {
      assert.ok(!res.body.includes(secret))
      assert.ok(!logs.text.includes(secret))
    }
  }
  assert.equal((await app.inject({ method: 'GET', url: '/providers', headers: bearer({ scopes: ['tokens:read'] }) })).statusCode, 403)
})
