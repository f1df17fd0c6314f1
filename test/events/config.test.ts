import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.js'

const BASE = { AUTH_JWT_SECRET: 'config-test-secret' }
const SECRET = 'whsec-0123456789abcdef'

function fails(env: Record<string, string>, variable: string, detail: RegExp): void {
  assert.throws(
    () => loadConfig({ ...BASE, ...env }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error))
      assert.equal(error.variable, variable, error.message)
      assert.match(error.message, detail)
      assert.ok(!error.message.includes('\n'))
      return true
    },
  )
}

test('audit and webhook defaults: no webhooks, no access audit, 100000 entries', () => {
  const c = loadConfig(BASE)
  assert.deepEqual([c.webhookUrls, c.webhookSecret, c.auditAccess, c.auditMaxEntries], [[], null, false, 100_000])
})

test('WEBHOOK_URLS: comma-separated http(s) URLs, trimmed and deduplicated, with a secret', () => {
  const c = loadConfig({
    ...BASE,
    WEBHOOK_URLS: ' https://hooks.example.com/a , http://127.0.0.1:9000/b,https://hooks.example.com/a,',
    WEBHOOK_SECRET: SECRET,
  })
  assert.deepEqual(c.webhookUrls, ['https://hooks.example.com/a', 'http://127.0.0.1:9000/b'])
  assert.equal(c.webhookSecret, SECRET)
})

test('bad webhook settings name their variable, and never echo a URL (it may hold a token)', () => {
  fails(
    { WEBHOOK_URLS: 'https://ok.example.com/x,ftp://files.example.com/token-abc', WEBHOOK_SECRET: SECRET },
    'WEBHOOK_URLS',
    /entry 2 is not an http\(s\) URL/,
  )
  fails({ WEBHOOK_URLS: 'not a url', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URLS', /entry 1/)
  assert.throws(
    () => loadConfig({ ...BASE, WEBHOOK_URLS: 'ftp://x/token-abc', WEBHOOK_SECRET: SECRET }),
    (e: Error) => !e.message.includes('token-abc'),
  )
  fails({ WEBHOOK_URLS: 'https://hooks.example.com/a' }, 'WEBHOOK_SECRET', /is required with WEBHOOK_URLS/)
  fails(
    { WEBHOOK_URLS: 'https://hooks.example.com/a', WEBHOOK_SECRET: 'short' },
    'WEBHOOK_SECRET',
    /is too short \(at least 16 characters\)/,
  )
})

test('AUDIT_ACCESS is a boolean; AUDIT_MAX_ENTRIES an integer from 1000 to 10000000', () => {
  assert.equal(loadConfig({ ...BASE, AUDIT_ACCESS: 'true' }).auditAccess, true)
  assert.equal(loadConfig({ ...BASE, AUDIT_MAX_ENTRIES: '1000' }).auditMaxEntries, 1000)
  assert.equal(loadConfig({ ...BASE, AUDIT_MAX_ENTRIES: '10000000' }).auditMaxEntries, 10_000_000)
  fails({ AUDIT_ACCESS: 'maybe' }, 'AUDIT_ACCESS', /must be true or false/)
  for (const bad of ['999', '10000001', '5e4', 'lots'])
    fails({ AUDIT_MAX_ENTRIES: bad }, 'AUDIT_MAX_ENTRIES', /must be a whole number from 1000 to 10000000/)
})
