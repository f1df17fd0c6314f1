import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { bearer } from '../helpers/app.js'
import { brokerForOp, startOp } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import type { OidcServer } from '../helpers/oidc-provider.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

let op: OidcServer
let redis: RedisServer
before(async () => {
  op = await startOp()
  redis = await startRedis()
})
after(async () => {
  await op.close()
  await redis.stop()
})

test('ten rotating refreshes in a row succeed against the real provider', async (t) => {
  const { app } = await brokerForOp(op, { redis })
  t.after(() => app.close())
  const grant = await op.obtainGrant()
  const put = await importGrant(app, 'rot', {
    provider: 'op',
    access_token: grant.access_token,
    refresh_token: grant.refresh_token,
    expires_in: grant.expires_in,
  })
  assert.equal(put.statusCode, 201)
  op.resetCounts()

  const seen = new Set<string>([grant.access_token])
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({ method: 'POST', url: '/tokens/rot/refresh', headers: bearer() })
    assert.equal(res.statusCode, 200, res.body)
    const token = res.json().access_token as string
    assert.ok(!seen.has(token), 'every refresh yields a new access token')
    seen.add(token)
    assert.equal((await op.userinfo(token)).status, 200)
  }
  // A reused rotated refresh token would have failed (and revoked the grant) at the provider.
  assert.equal(op.grantCounts.refresh_token, 10)
  assert.equal(op.grantErrors.refresh_token ?? 0, 0)
  // The original refresh token was rotated out long ago.
  assert.equal((await op.introspect(grant.refresh_token)).active, false)
})

test('a stolen refresh token reused at the provider kills the grant: REFRESH_TOKEN_INVALID, then no more calls', async (t) => {
  const { app } = await brokerForOp(op, { redis })
  t.after(() => app.close())
  const grant = await op.obtainGrant()
  await importGrant(app, 'stolen', {
    provider: 'op',
    access_token: grant.access_token,
    refresh_token: grant.refresh_token,
    expires_in: grant.expires_in,
  })
  assert.equal((await app.inject({ method: 'POST', url: '/tokens/stolen/refresh', headers: bearer() })).statusCode, 200)

  // Someone replays the old (rotated-out) refresh token directly: the provider revokes the family.
  const replay = await op.refreshDirect(grant.refresh_token)
  assert.equal(replay.status, 400)
  assert.equal(replay.body.error, 'invalid_grant')
  op.resetCounts()

  const res = await app.inject({ method: 'POST', url: '/tokens/stolen/refresh', headers: bearer() })
  assert.equal(res.statusCode, 409)
  assert.equal(res.json().code, 'REAUTHENTICATION_REQUIRED')
  const meta = (await app.inject({ method: 'GET', url: '/accounts/stolen', headers: bearer() })).json()
  assert.equal(meta.status, 'reauth_required')
  assert.equal(meta.last_error.code, 'REFRESH_TOKEN_INVALID')
  assert.equal(op.grantCounts.refresh_token, 1)

  for (let i = 0; i < 5; i++) {
    assert.equal((await app.inject({ method: 'GET', url: '/tokens/stolen/access', headers: bearer() })).statusCode, 409)
  }
  assert.equal((await app.inject({ method: 'POST', url: '/tokens/stolen/refresh', headers: bearer() })).statusCode, 409)
  assert.equal(op.grantCounts.refresh_token, 1, 'no further provider calls')
})
