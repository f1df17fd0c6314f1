import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { json, startStubProvider } from '../helpers/stub-provider.js'

test('an outage across accounts opens the circuit: after three accounts failed, others do not call the provider', async (t) => {
  const stub = await startStubProvider()
  const { app } = await brokerFor(stub)
  t.after(async () => {
    await app.close()
    await stub.close()
  })
  stub.handle('/token', (_req, res) => json(res, 503, {}))
  const expired = new Date(Date.now() - 1000).toISOString()
  for (const account of ['a', 'b', 'c', 'd', 'e']) {
    await importGrant(app, account, { access_token: `at-${account}`, refresh_token: `rt-${account}`, expires_at: expired })
  }
  // A round of 3 attempts each for a and b; c's first failure makes three distinct failing accounts: open.
  for (const account of ['a', 'b', 'c']) assert.equal((await getAccess(app, account)).statusCode, 503)
  assert.equal(stub.count('/token'), 7)
  for (const account of ['d', 'e']) {
    const res = await getAccess(app, account)
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'PROVIDER_UNAVAILABLE')
    assert.ok(Number(res.headers['retry-after']) >= 1)
  }
  assert.equal(stub.count('/token'), 7, 'the open circuit keeps the provider out of the retry storm')
  const meta = (await app.inject({ method: 'GET', url: '/accounts/d', headers: bearer() })).json()
  assert.equal(meta.status, 'active')
})
