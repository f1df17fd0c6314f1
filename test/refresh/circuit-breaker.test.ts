import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer } from '../helpers/app.js'
import { json, startStubProvider } from '../helpers/stub-provider.js'
import { brokerFor, getAccess, importGrant } from './setup.js'

test('a provider outage opens the circuit: later requests do not call the provider at all', async (t) => {
  const stub = await startStubProvider()
  const { app } = await brokerFor(stub)
  t.after(async () => { await app.close(); await stub.close() })
  stub.handle('/token', (_req, res) => json(res, 503, {}))
  const expired = new Date(Date.now() - 1000).toISOString()
  for (const account of ['a', 'b', 'c', 'd']) {
    await importGrant(app, account, { access_token: `at-${account}`, refresh_token: `rt-${account}`, expires_at: expired })
  }
  // 3 attempts for a, then 2 for b: five transient failures in a row open the breaker.
  assert.equal((await getAccess(app, 'a')).statusCode, 503)
  assert.equal((await getAccess(app, 'b')).statusCode, 503)
  assert.equal(stub.count('/token'), 5)
  for (const account of ['c', 'd']) {
    const res = await getAccess(app, account)
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'PROVIDER_UNAVAILABLE')
    assert.ok(Number(res.headers['retry-after']) >= 1)
  }
  assert.equal(stub.count('/token'), 5, 'the open circuit keeps the provider out of the retry storm')
  const meta = (await app.inject({ method: 'GET', url: '/accounts/c', headers: bearer() })).json()
  assert.equal(meta.status, 'active')
})
