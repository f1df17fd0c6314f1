import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer } from '../helpers/app.js'
import { storeApp } from '../helpers/brokers.js'
import { assertError } from '../http/support.js'

test("GET /accounts: a cursor never reveals an id outside the caller's accounts claim, and a tampered one is 400", async (t) => {
  const { app } = await storeApp(t, 'memory', null)
  const store = app.storage.grants
  const write = (provider: string) => ({
    provider,
    grantId: 'g',
    scope: null,
    tokenType: 'Bearer',
    expiresAt: null,
    accessToken: null,
    refreshToken: null,
    meta: null,
    fromProvider: false,
    keepRefreshToken: false,
  })
  // More accounts outside the caller's claim than one page may scan (5000), then its own.
  for (let i = 0; i < 5100; i++) await store.writeGrant(`bsecret-customer-${String(i).padStart(4, '0')}`, write('acme'), Date.now())
  for (const id of ['crm-1', 'crm-2']) await store.writeGrant(id, write('acme'), Date.now())

  const crmOnly = bearer({ scopes: ['accounts:read'], accounts: ['crm-*'] })
  const first = await app.inject({ method: 'GET', url: '/accounts?limit=10', headers: crmOnly })
  assert.equal(first.statusCode, 200, first.body)
  const { accounts, next_cursor: cursor } = first.json() as { accounts: unknown[]; next_cursor: string | null }
  assert.deepEqual(accounts, [], "the scan budget ran out before the caller's accounts")
  assert.ok(cursor)
  assert.match(cursor, /^[A-Za-z0-9_-]+$/)
  for (const decoded of [
    Buffer.from(cursor, 'base64url').toString('utf8'),
    ...Buffer.from(cursor, 'base64url')
      .toString('utf8')
      .split('.')
      .map((p) => Buffer.from(p, 'base64url').toString('latin1')),
  ]) {
    assert.ok(!decoded.includes('bsecret'), `the cursor reveals nothing: ${decoded}`)
  }
  const next = await app.inject({ method: 'GET', url: `/accounts?limit=10&cursor=${cursor}`, headers: crmOnly })
  assert.deepEqual(
    (next.json() as { accounts: { account: string }[] }).accounts.map((a) => a.account),
    ['crm-1', 'crm-2'],
  )

  // A cursor made by hand, or one bit flipped, is refused rather than followed.
  const forged = Buffer.from('bsecret-customer-5094', 'utf8').toString('base64url')
  const raw = Buffer.from(cursor, 'base64url')
  raw[raw.length - 3] = raw[raw.length - 3]! ^ 1
  for (const bad of [forged, raw.toString('base64url')]) {
    assertError(await app.inject({ method: 'GET', url: `/accounts?cursor=${bad}`, headers: crmOnly }), 400, 'VALIDATION_ERROR', /cursor/)
  }
})
