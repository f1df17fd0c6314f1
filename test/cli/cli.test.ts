import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseKeyRingSpec } from '../../src/crypto/key-ring.js'
import { testApp } from '../helpers/app.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { assertError, auth, nowSeconds } from '../http/support.js'
import { cli } from './run-cli.js'

const SECRET = 'cli-test-secret-0123456789abcdef01234567'
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>

describe('cli', { concurrency: true }, () => {
  test('--help exits 0 and describes token and keys generate', async () => {
    const run = await cli(['--help'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /\btoken\b/)
    assert.match(run.stdout, /keys generate/)
    assert.match((await cli(['token', '--help'])).stdout, /tokens:read/)
  })

  test('keys generate prints id:base64 of a 32-byte key that ENCRYPTION_KEYS accepts', async () => {
    const [one, two] = await Promise.all([cli(['keys', 'generate']), cli(['keys', 'generate', '--id', 'k2026'])])
    for (const run of [one, two]) {
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]+=*\n$/)
      const entry = run.stdout.trim()
      assert.equal(Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64').length, 32)
      const [spec] = parseKeyRingSpec(entry)
      assert.equal(spec?.key.length, 32)
    }
    assert.ok(two.stdout.startsWith('k2026:'))
    assert.notEqual(one.stdout.split(':')[1], two.stdout.split(':')[1], 'every key is fresh')
    const both = parseKeyRingSpec(`${two.stdout.trim()},${one.stdout.trim()}`)
    assert.equal(both.length, 2)
  })

  test('token mints an HS256 caller JWT the app accepts, limited to its scope and accounts', async (t) => {
    const before = nowSeconds()
    const run = await cli(['token', 'tokens:read', '--sub', 'svc', '--accounts', 'a,b*', '--ttl', '60'], { AUTH_JWT_SECRET: SECRET })
    assert.equal(run.code, 0, run.stderr)
    const jwt = run.stdout.trim()
    assert.match(jwt, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    assert.equal(headerOf(jwt).alg, 'HS256')
    const payload = payloadOf(jwt)
    assert.equal(payload.sub, 'svc')
    assert.equal(payload.scope, 'tokens:read')
    assert.deepEqual(payload.accounts, ['a', 'b*'])
    assert.equal(typeof payload.exp, 'number')
    const exp = payload.exp as number
    assert.ok(exp >= before + 60 && exp <= nowSeconds() + 60, `exp is 60 s from minting: ${exp}`)

    const { app } = await testApp({ providers: loopbackProviders(), env: { AUTH_JWT_SECRET: SECRET } })
    t.after(() => app.close())
    // allowed accounts get past auth (and are simply unknown here)
    assertError(await app.inject({ method: 'GET', url: '/accounts/a', headers: auth(jwt) }), 404, 'ACCOUNT_NOT_FOUND')
    assertError(await app.inject({ method: 'GET', url: '/tokens/b-prod/access', headers: auth(jwt) }), 404, 'ACCOUNT_NOT_FOUND')
    // other accounts and other scopes are refused
    assertError(await app.inject({ method: 'GET', url: '/accounts/c', headers: auth(jwt) }), 403, 'FORBIDDEN')
    assertError(await app.inject({ method: 'GET', url: '/accounts/ab', headers: auth(jwt) }), 403, 'FORBIDDEN')
    assertError(await app.inject({ method: 'GET', url: '/accounts', headers: auth(jwt) }), 403, 'FORBIDDEN')
    // an app with another secret refuses it
    const { app: other } = await testApp({ providers: loopbackProviders(), env: { AUTH_JWT_SECRET: `${SECRET}-other` } })
    t.after(() => other.close())
    assertError(await other.inject({ method: 'GET', url: '/accounts/a', headers: auth(jwt) }), 401, 'UNAUTHORIZED')
  })

  test('token adds iss and aud when they are configured', async (t) => {
    const env = { AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'https://issuer.test', AUTH_JWT_AUDIENCE: 'token-broker' }
    const run = await cli(['token', 'accounts:read', 'accounts:write'], env)
    assert.equal(run.code, 0, run.stderr)
    const jwt = run.stdout.trim()
    const payload = payloadOf(jwt)
    assert.equal(payload.iss, 'https://issuer.test')
    assert.equal(payload.aud, 'token-broker')
    assert.equal(payload.scope, 'accounts:read accounts:write')
    assert.equal(payload.accounts, undefined, 'no accounts claim unless asked')
    const { app } = await testApp({ providers: loopbackProviders(), env })
    t.after(() => app.close())
    const res = await app.inject({ method: 'GET', url: '/accounts', headers: auth(jwt) })
    assert.equal(res.statusCode, 200, res.body)
  })

  test('bad usage exits non-zero with a message on stderr and nothing on stdout', async () => {
    const cases: [string, string[], Record<string, string>][] = [
      ['an unknown scope', ['token', 'tokens:write'], { AUTH_JWT_SECRET: SECRET }],
      ['a made-up scope next to a real one', ['token', 'tokens:read', 'admin'], { AUTH_JWT_SECRET: SECRET }],
      ['no scope', ['token'], { AUTH_JWT_SECRET: SECRET }],
      ['no AUTH_JWT_SECRET', ['token', 'tokens:read'], {}],
      ['a bad --ttl', ['token', 'tokens:read', '--ttl', '1.5'], { AUTH_JWT_SECRET: SECRET }],
      ['an unknown option', ['token', 'tokens:read', '--admin', 'yes'], { AUTH_JWT_SECRET: SECRET }],
      ['an unknown command', ['frobnicate'], {}],
      ['keys without generate', ['keys'], {}],
      ['a bad key id', ['keys', 'generate', '--id', 'no spaces'], {}],
    ]
    const runs = await Promise.all(cases.map(([, args, env]) => cli(args, env)))
    cases.forEach(([what], i) => {
      const run = runs[i]!
      assert.notEqual(run.code, 0, `${what}: exit ${run.code}`)
      assert.equal(run.stdout, '', `${what}: nothing on stdout`)
      assert.match(run.stderr, /token-broker: \S/, `${what}: a message on stderr`)
      assert.ok(!/\n\s+at /.test(run.stderr), `${what}: no stack trace`)
    })
    assert.match(runs[0]!.stderr, /tokens:write/)
  })
})
