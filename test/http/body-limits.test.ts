/**
 * Routes with small bodies refuse big ones (413 before parsing); PUT /accounts keeps the
 * contract's 64 KiB.
 */
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import { SMALL_BODY_LIMIT } from '../../src/http/body-limits.js'
import { bearer, testApp } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { assertError } from './support.js'

const json = { 'content-type': 'application/json' }

async function appWith(t: TestContext) {
  const { app } = await testApp({ providers: loopbackProviders() })
  t.after(() => app.close())
  await importGrant(app, 'crm-prod', { provider: 'acme', access_token: 'at-current', expires_in: 3600 })
  return app
}

/** A JSON object of exactly `bytes` bytes: one string field padded, plus trailing spaces. */
function bodyOf(bytes: number, field: string, fill: number): string {
  const body = JSON.stringify({ [field]: 'x'.repeat(fill) })
  assert.ok(body.length <= bytes)
  return body + ' '.repeat(bytes - body.length)
}

test('POST /connect/:provider and POST /tokens/:account/refresh: a 20 KiB body is 413 PAYLOAD_TOO_LARGE', async (t) => {
  const app = await appWith(t)
  for (const url of ['/connect/acme', '/tokens/crm-prod/refresh']) {
    const field = url.startsWith('/connect') ? 'account' : 'rejected_token'
    const payload = bodyOf(20 * 1024, field, 20 * 1024 - 100)
    const res = await app.inject({ method: 'POST', url, headers: { ...bearer(), ...json }, payload })
    assertError(res, 413, 'PAYLOAD_TOO_LARGE')
    // streamed without a Content-Length: refused while reading
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.from(payload.slice(i * 1024, (i + 1) * 1024)))
    const chunked = await app.inject({
      method: 'POST',
      url,
      headers: { ...bearer(), ...json, 'transfer-encoding': 'chunked' },
      payload: Readable.from(chunks),
    })
    assertError(chunked, 413, 'PAYLOAD_TOO_LARGE')
  }
})

test('the smaller limit still admits every schema-valid body', async (t) => {
  const app = await appWith(t)
  // the largest rejected_token the schema allows
  const payload = JSON.stringify({ rejected_token: 'r'.repeat(16_384) })
  assert.ok(Buffer.byteLength(payload) <= SMALL_BODY_LIMIT)
  const res = await app.inject({ method: 'POST', url: '/tokens/crm-prod/refresh', headers: { ...bearer(), ...json }, payload })
  assert.equal(res.statusCode, 200, res.body)
  assert.equal((res.json() as { access_token: string }).access_token, 'at-current')
  // a padded connect body just under the limit: not 413 (the account id is a valid one)
  const connect = await app.inject({
    method: 'POST',
    url: '/connect/acme',
    headers: { ...bearer(), ...json },
    payload: JSON.stringify({ account: 'crm-new' }) + ' '.repeat(SMALL_BODY_LIMIT - 30),
  })
  assert.equal(connect.statusCode, 201, connect.body)
})

test('PUT /accounts/:account: 60 KiB passes the size check (a validation 400, not 413)', async (t) => {
  const app = await appWith(t)
  const payload = JSON.stringify({ provider: 'acme', access_token: 'x'.repeat(60 * 1024 - 50) })
  assert.ok(Buffer.byteLength(payload) > 60 * 1024 - 50 && Buffer.byteLength(payload) < 64 * 1024)
  const res = await app.inject({ method: 'PUT', url: '/accounts/big', headers: { ...bearer(), ...json }, payload })
  assertError(res, 400, 'VALIDATION_ERROR') // access_token is over its schema's length, but the body was read
})
