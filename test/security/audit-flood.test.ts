import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AuditEntry } from '../../src/events/audit-log.js'
import { bearer, callerToken } from '../helpers/app.js'
import { storeApp } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { waitFor } from '../helpers/wait.js'

const admin = bearer({ scopes: ['accounts:read', 'accounts:write'] })

async function trail(app: import('fastify').FastifyInstance): Promise<AuditEntry[]> {
  const res = await app.inject({ method: 'GET', url: '/audit?limit=500', headers: admin })
  assert.equal(res.statusCode, 200, res.body)
  return (res.json() as { entries: AuditEntry[] }).entries
}

test('a flood of unauthenticated requests writes nothing durable: the evidence of an import survives', async (t) => {
  const { app, logs } = await storeApp(t, 'memory', null, { env: { AUDIT_MAX_ENTRIES: '1000' } })
  await importGrant(
    app,
    'crm-prod',
    { provider: 'acme', access_token: 'at-1', expires_in: 3600 },
    { ...admin, 'x-request-id': 'req-import' },
  )
  await waitFor('the import in the trail', async () => ((await trail(app)).length === 1 ? true : undefined))

  const forged = callerToken({ secret: 'not-the-broker-secret-0123456789abcdef' })
  for (let i = 0; i < 1500; i++) {
    const headers: Record<string, string> = { 'x-request-id': `forged-${i}` }
    if (i % 2 === 0) headers.authorization = `Bearer ${forged}`
    const res = await app.inject({ method: 'GET', url: i % 3 === 0 ? '/accounts' : '/tokens/crm-prod/access', headers })
    assert.equal(res.statusCode, 401)
  }
  const entries = await trail(app)
  assert.deepEqual(
    entries.map((e) => [e.event, e.account, e.request_id]),
    [['account.imported', 'crm-prod', 'req-import']],
  )

  // Counted in a metric, and one throttled warning with the client address.
  const metrics = await (await app.inject({ method: 'GET', url: '/metrics' })).body
  const counted = [...metrics.matchAll(/^unauthenticated_requests_total\{route="[^"]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)
  assert.equal(counted, 1500)
  const warnings = logs.lines
    .filter((l) => l.includes('unauthenticated request refused'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.equal(warnings.length, 1, 'one warning a minute, not one per request')
  assert.equal(warnings[0]!.client, '127.0.0.1')
  assert.ok(!logs.text.includes(forged))
})

test('a verified caller denied (403) stays in the trail, but never with an account id the client made up', async (t) => {
  const { app } = await storeApp(t, 'memory', null)
  const noRead = bearer({ sub: 'svc-narrow', scopes: ['accounts:write'] })
  const cases = ['crm-prod', '%3Cscript%3E', 'a%20b', 'x'.repeat(200)]
  for (const account of cases) {
    const res = await app.inject({
      method: 'GET',
      url: `/tokens/${account}/access`,
      headers: { ...noRead, 'x-request-id': 'r'.repeat(65) },
    })
    assert.equal(res.statusCode, 403, res.body)
    assert.notEqual(res.headers['x-request-id'], 'r'.repeat(65), 'an overlong request id is replaced')
  }
  const entries = await waitFor('four denials', async () => {
    const e = await trail(app)
    return e.length === 4 ? e : undefined
  })
  assert.deepEqual(
    entries.map((e) => [e.event, e.sub, e.account, e.outcome, e.detail]),
    [
      ['caller.denied', 'svc-narrow', 'crm-prod', '403', '/tokens/:account/access'],
      ['caller.denied', 'svc-narrow', null, '403', '/tokens/:account/access'],
      ['caller.denied', 'svc-narrow', null, '403', '/tokens/:account/access'],
      ['caller.denied', 'svc-narrow', null, '403', '/tokens/:account/access'],
    ],
  )
  for (const e of entries) assert.match(e.request_id!, /^[0-9a-f-]{36}$/)
})
