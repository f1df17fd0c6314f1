import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IssuedToken } from '../../src/broker/results.js'
import { accessBody, accessJson } from '../../src/http/views.js'

const NOW = Date.parse('2026-11-28T09:00:00.000Z')
const token = (over: Partial<IssuedToken> = {}): IssuedToken => ({
  account: 'acct-1',
  provider: 'google',
  accessToken: 'ya29.a0-token',
  tokenType: 'Bearer',
  expiresAt: NOW + 3_599_500,
  scope: 'openid email',
  issuedAt: NOW,
  ...over,
})

test('the access JSON of a near-cache token is the body’s JSON, whatever its values', () => {
  const cases = [
    token(),
    token({ expiresAt: null }),
    token({ scope: null }),
    token({ expiresAt: NOW - 5000 }), // expires_in never below 0
    token({ scope: 'a "quoted" \\ scope\n', accessToken: 'tök\u2028en', provider: 'ü' }),
    token({ accessToken: 'lone \ud800 surrogate, DEL \x7f, tab \t, slash /', tokenType: '' }),
  ]
  for (const t of cases) {
    const expected = JSON.stringify(accessBody(t))
    assert.equal(accessJson(t), expected, 'not held')
    const held = { ...t, heldAs: {} }
    assert.equal(accessJson(held), expected, 'held, first answer')
    assert.equal(accessJson(held), expected, 'held, from the parts kept')
  }
})

test('what is kept per entry is all but expires_in: later answers count down from their own time; entries keep their own', () => {
  const entry = {}
  const at = (issuedAt: number, heldAs = entry) => JSON.parse(accessJson(token({ issuedAt, heldAs }))) as Record<string, unknown>
  assert.equal(at(NOW).expires_in, 3599)
  assert.equal(at(NOW + 1000).expires_in, 3598)
  assert.equal(at(NOW + 3_600_000).expires_in, 0)
  const other = JSON.parse(accessJson(token({ heldAs: {}, account: 'acct-2', accessToken: 'other' }))) as Record<string, unknown>
  assert.deepEqual([other.account, other.access_token], ['acct-2', 'other'])
  assert.deepEqual([at(NOW).account, at(NOW).access_token], ['acct-1', 'ya29.a0-token'])
})
