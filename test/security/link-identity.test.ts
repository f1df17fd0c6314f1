import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { AuditEntry } from '../../src/events/audit-log.js'
import { bearer } from '../helpers/app.js'
import { brokerForOp, callbackPath, startOp, storeApp } from '../helpers/brokers.js'
import type { OidcServer } from '../helpers/oidc-provider.js'
import { waitFor } from '../helpers/wait.js'
import { assertError } from '../http/support.js'

let op: OidcServer
before(async () => {
  op = await startOp()
})
after(() => op.close())

const admin = bearer({ sub: 'admin-jane', scopes: ['accounts:write', 'accounts:read', 'tokens:read'] })
const connect = (app: FastifyInstance, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/connect/op', headers: admin, payload: body })
const callback = (app: FastifyInstance, redirect: URL) =>
  app.inject({ method: 'GET', url: callbackPath(redirect), headers: { accept: 'application/json' } })

async function trail(app: FastifyInstance, account: string): Promise<AuditEntry[]> {
  const res = await app.inject({ method: 'GET', url: `/audit?account=${account}`, headers: admin })
  return (res.json() as { entries: AuditEntry[] }).entries
}

test('a link restricted to an expected identity: another identity completing it gets IDENTITY_MISMATCH and nothing is stored', async (t) => {
  const { app, logs } = await brokerForOp(op)
  t.after(() => app.close())
  const started = await connect(app, { account: 'crm-prod', expected_subject: 'alice', login_hint: 'alice' })
  assert.equal(started.statusCode, 201, started.body)
  assert.equal(new URL(started.json().authorization_url).searchParams.get('login_hint'), 'alice')

  // The URL leaked: mallory opens it first and consents with her own account.
  const stolen = await op.authorize(started.json().authorization_url, { login: 'mallory' })
  assertError(await callback(app, stolen), 400, 'IDENTITY_MISMATCH')
  assert.equal((await app.inject({ method: 'GET', url: '/accounts/crm-prod', headers: admin })).statusCode, 404)

  // The expected person completes a fresh link.
  const again = await connect(app, { account: 'crm-prod', expected_subject: 'alice' })
  const linked = await callback(app, await op.authorize(again.json().authorization_url, { login: 'alice' }))
  assert.equal(linked.statusCode, 200, linked.body)

  const entries = await waitFor('the audit entries', async () => {
    const e = await trail(app, 'crm-prod')
    return e.length === 4 ? e : undefined
  })
  assert.deepEqual(
    entries.map((e) => [e.event, e.sub, e.outcome, e.detail]),
    [
      ['account.link_started', 'admin-jane', 'started', 'expected alice'],
      ['account.linked', 'admin-jane', 'identity_mismatch', 'sub=mallory'],
      ['account.link_started', 'admin-jane', 'started', 'expected alice'],
      ['account.linked', 'admin-jane', 'created', 'sub=alice'],
    ],
  )
  const line = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'account linked')
  assert.equal(line?.identity, 'sub=alice')
  assert.equal(line?.sub, 'admin-jane')
})

test('without a restriction the identity that completed the link is still audited', async (t) => {
  const { app } = await brokerForOp(op)
  t.after(() => app.close())
  const started = await connect(app, { account: 'open-link' })
  assert.equal((await callback(app, await op.authorize(started.json().authorization_url, { login: 'bob' }))).statusCode, 200)
  const entries = await waitFor('the link entries', async () => {
    const e = await trail(app, 'open-link')
    return e.length === 2 ? e : undefined
  })
  assert.deepEqual(
    entries.map((e) => [e.event, e.sub, e.detail]),
    [
      ['account.link_started', 'admin-jane', null],
      ['account.linked', 'admin-jane', 'sub=bob'],
    ],
  )
})

test('expected_subject needs an OpenID provider', async (t) => {
  const { app } = await storeApp(t, 'memory', null)
  const res = await app.inject({
    method: 'POST',
    url: '/connect/acme',
    headers: admin,
    payload: { account: 'x', expected_subject: 'alice' },
  })
  assertError(res, 400, 'VALIDATION_ERROR', /expected_subject/)
})
