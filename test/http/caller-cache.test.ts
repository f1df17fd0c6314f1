import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer, testApp } from '../helpers/app.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { realTimePassed } from '../helpers/wait.js'
import { assertError } from './support.js'

/** Verified callers are kept by Authorization header: a hit must still honour exp and the claims. */
async function appWith() {
  const { app } = await testApp({ providers: loopbackProviders() })
  return app
}

test('a verified caller kept in the cache is refused once its token expires', async (t) => {
  const app = await appWith()
  t.after(() => app.close())
  const headers = bearer({ ttlSeconds: 5 })
  const exp = JSON.parse(Buffer.from(headers.authorization.split('.')[1]!, 'base64url').toString()).exp as number
  assert.equal((await app.inject({ url: '/providers', headers })).statusCode, 200)
  assert.equal((await app.inject({ url: '/providers', headers })).statusCode, 200)
  // The verifier reads the real clock and exp counts whole seconds: real time has to pass it.
  await realTimePassed(exp * 1000, 50)
  const late = await app.inject({ url: '/providers', headers })
  assertError(late, 401, 'UNAUTHORIZED')
})

test('a cached caller keeps its scopes and accounts: the same header is refused the same way every time', async (t) => {
  const app = await appWith()
  t.after(() => app.close())
  const headers = bearer({ scopes: ['tokens:read'], accounts: ['team-a*'] })
  for (let i = 0; i < 3; i++) {
    assertError(await app.inject({ url: '/tokens/team-b-1/access', headers }), 403, 'FORBIDDEN')
    assertError(await app.inject({ url: '/accounts', headers }), 403, 'FORBIDDEN')
    assertError(await app.inject({ url: '/tokens/team-a-1/access', headers }), 404, 'ACCOUNT_NOT_FOUND')
  }
  // A header that differs by one character is verified on its own, not taken from the cache.
  const at = headers.authorization.length - 10
  const swapped = headers.authorization[at] === 'A' ? 'B' : 'A'
  const tampered = { authorization: `${headers.authorization.slice(0, at)}${swapped}${headers.authorization.slice(at + 1)}` }
  assertError(await app.inject({ url: '/tokens/team-a-1/access', headers: tampered }), 401, 'UNAUTHORIZED')
})
