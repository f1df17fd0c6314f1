import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.js'

const PROD = { NODE_ENV: 'production', REDIS_URL: 'redis://r:6379', ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}` }
const refused = (env: Record<string, string>, variable: string, message: RegExp) =>
  assert.throws(
    () => loadConfig(env),
    (e: unknown) => e instanceof ConfigError && e.variable === variable && message.test(e.message),
  )

test('an HS256 secret under 32 bytes is refused in production and warned about elsewhere', () => {
  refused({ ...PROD, AUTH_JWT_SECRET: 'x' }, 'AUTH_JWT_SECRET', /32 bytes/)
  refused({ ...PROD, AUTH_JWT_SECRET: 'y'.repeat(31) }, 'AUTH_JWT_SECRET', /32 bytes/)
  assert.deepEqual(loadConfig({ ...PROD, AUTH_JWT_SECRET: 'z'.repeat(32) }).warnings, [])
  const dev = loadConfig({ AUTH_JWT_SECRET: 'short' })
  assert.equal(dev.warnings.length, 1)
  assert.match(dev.warnings[0]!, /^AUTH_JWT_SECRET is shorter than 32 bytes/)
})

test('AUTH_JWKS_URL must be https, except on loopback', () => {
  refused({ AUTH_JWKS_URL: 'http://idp.example.com/jwks.json' }, 'AUTH_JWKS_URL', /https/)
  refused({ AUTH_JWKS_URL: 'http://10.0.0.5/jwks.json' }, 'AUTH_JWKS_URL', /https/)
  for (const url of [
    'https://idp.example.com/jwks.json',
    'http://127.0.0.1:8000/jwks.json',
    'http://localhost/jwks',
    'http://[::1]:9/jwks',
  ]) {
    assert.deepEqual(loadConfig({ AUTH_JWKS_URL: url }).callerAuth, { kind: 'jwks', url }, url)
  }
})

test('server timeouts and load shedding: production defaults, and configurable', () => {
  const defaults = loadConfig({ AUTH_JWT_SECRET: 'z'.repeat(32) })
  assert.deepEqual(defaults.server, {
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 15_000,
    keepAliveTimeoutMs: 72_000,
    connectionTimeoutMs: 120_000,
  })
  assert.deepEqual(defaults.overload, { maxEventLoopDelayMs: 1000, maxHeapMb: 0 })
  const set = loadConfig({
    AUTH_JWT_SECRET: 'z'.repeat(32),
    REQUEST_TIMEOUT_MS: '5000',
    HEADERS_TIMEOUT_MS: '2000',
    KEEP_ALIVE_TIMEOUT_MS: '5000',
    CONNECTION_TIMEOUT_MS: '60000',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_HEAP_MB: '512',
  })
  assert.deepEqual(set.server, { requestTimeoutMs: 5000, headersTimeoutMs: 2000, keepAliveTimeoutMs: 5000, connectionTimeoutMs: 60_000 })
  assert.deepEqual(set.overload, { maxEventLoopDelayMs: 0, maxHeapMb: 512 })
  refused({ AUTH_JWT_SECRET: 'z'.repeat(32), REQUEST_TIMEOUT_MS: '0' }, 'REQUEST_TIMEOUT_MS', /./)
  refused(
    { AUTH_JWT_SECRET: 'z'.repeat(32), REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '3000' },
    'HEADERS_TIMEOUT_MS',
    /REQUEST_TIMEOUT_MS/,
  )
})
