import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { bearer } from '../helpers/app.js'
import { brokerFor, brokerForOp, startOp } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import type { OidcServer } from '../helpers/oidc-provider.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitUntil } from '../helpers/wait.js'

let redis: RedisServer
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

const revoke = (app: FastifyInstance, account: string) => app.inject({ method: 'DELETE', url: `/tokens/${account}`, headers: bearer() })

async function assertGone(app: FastifyInstance, account: string) {
  for (const [method, url] of [
    ['GET', `/tokens/${account}/access`],
    ['POST', `/tokens/${account}/refresh`],
    ['GET', `/accounts/${account}`],
    ['DELETE', `/tokens/${account}`],
  ] as const) {
    const res = await app.inject({ method, url, headers: bearer() })
    assert.equal(res.statusCode, 404, `${method} ${url}`)
    assert.equal(res.json().code, 'ACCOUNT_NOT_FOUND')
  }
  const list = (await app.inject({ method: 'GET', url: '/accounts', headers: bearer() })).json()
  assert.ok(!list.accounts.some((a: { account: string }) => a.account === account))
}

describe('against the real authorization server', () => {
  let op: OidcServer
  before(async () => {
    op = await startOp()
  })
  after(async () => {
    await op.close()
  })

  test('revokes the refresh token at the provider, then deletes the account', async (t) => {
    const { app } = await brokerForOp(op, { redis })
    t.after(() => app.close())
    const grant = await op.obtainGrant()
    await importGrant(app, 'gone', {
      provider: 'op',
      access_token: grant.access_token,
      refresh_token: grant.refresh_token,
      expires_in: 600,
    })
    assert.equal((await op.introspect(grant.refresh_token)).active, true)

    const res = await revoke(app, 'gone')
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { account: 'gone', revoked: true, provider_revocation: 'succeeded' })
    assert.equal((await op.introspect(grant.refresh_token)).active, false)
    await assertGone(app, 'gone')
    const audit = (await app.inject({ method: 'GET', url: '/audit?account=gone&event=account.revoked', headers: bearer() })).json()
    assert.equal(audit.entries.length, 1)
    assert.equal(audit.entries[0].outcome, 'succeeded')
  })
})

describe('against stub providers', () => {
  let stub: StubProvider
  before(async () => {
    stub = await startStubProvider()
  })
  after(async () => {
    await stub.close()
  })

  test('a provider that is down: still wiped, reported failed', async (t) => {
    const { app } = await brokerFor(stub, { redis, provider: { revocation_url: `${stub.url}/revoke` } })
    t.after(() => app.close())
    stub.handle('/revoke', (_req, res) => json(res, 503, {}))
    await importGrant(app, 'down', { access_token: 'at', refresh_token: 'rt', expires_in: 600 })
    const res = await revoke(app, 'down')
    assert.deepEqual(res.json(), { account: 'down', revoked: true, provider_revocation: 'failed' })
    const sent = stub.requests.find((r) => r.path === '/revoke')!
    assert.equal(sent.body.token, 'rt')
    assert.equal(sent.body.token_type_hint, 'refresh_token')
    assert.match(String(sent.headers.authorization), /^Basic /)
    await assertGone(app, 'down')
  })

  test('a provider that hangs past the timeout: still wiped, reported failed', async (t) => {
    const { app } = await brokerFor(stub, { redis, env: { PROVIDER_TIMEOUT_MS: '200' }, provider: { revocation_url: `${stub.url}/hang` } })
    t.after(() => app.close())
    stub.handle('/hang', () => {
      /* never answers */
    })
    await importGrant(app, 'hang', { access_token: 'at', expires_in: 600 })
    const res = await revoke(app, 'hang')
    assert.equal(res.json().provider_revocation, 'failed')
    await assertGone(app, 'hang')
  })

  test('no revocation endpoint: not_supported, and the account is deleted', async (t) => {
    const { app } = await brokerFor(stub, { redis })
    t.after(() => app.close())
    await importGrant(app, 'plain', { access_token: 'at', refresh_token: 'rt', expires_in: 600 })
    assert.deepEqual((await revoke(app, 'plain')).json(), { account: 'plain', revoked: true, provider_revocation: 'not_supported' })
    await assertGone(app, 'plain')
  })

  test('an unknown account is 404', async (t) => {
    const { app } = await brokerFor(stub)
    t.after(() => app.close())
    const res = await revoke(app, 'never-was')
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'ACCOUNT_NOT_FOUND')
  })

  test('a refresh racing the revocation: the refreshed grant is the one revoked, and it does not outlive the delete', async (t) => {
    const { app } = await brokerFor(stub, { redis, provider: { revocation_url: `${stub.url}/revoke-race` } })
    t.after(() => app.close())
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    stub.handle('/token', async (_req, res) => {
      await gate
      json(res, 200, { access_token: 'race-at-1', refresh_token: 'race-rt-1', expires_in: 3600 })
    })
    stub.handle('/revoke-race', (_req, res) => json(res, 200, {}))
    await importGrant(app, 'race', { access_token: 'race-at-0', refresh_token: 'race-rt-0', expires_in: 60 })

    const access = app.inject({ method: 'GET', url: '/tokens/race/access', headers: bearer() })
    await waitUntil('the refresh to reach the provider', () => stub.count('/token') === 1)
    const lockWaits = async () => (await app.metrics.lockWaits.get()).values[0]?.value ?? 0
    const waitsBefore = await lockWaits()
    const deletion = revoke(app, 'race')
    await waitUntil('the delete to wait for the refresh lock', async () => (await lockWaits()) > waitsBefore)
    assert.equal(stub.count('/revoke-race'), 0, 'revocation waits for the refresh holding the lock')
    release()
    const [got, deleted] = await Promise.all([access, deletion])
    assert.equal(got.statusCode, 200)
    assert.equal(got.json().access_token, 'race-at-1')
    assert.equal(deleted.json().provider_revocation, 'succeeded')
    assert.equal(stub.requests.find((r) => r.path === '/revoke-race')!.body.token, 'race-rt-1')
    await assertGone(app, 'race')
  })

  test('the template decides how: GitHub deletes the app grant, HubSpot puts the token in the path, Google sends no client auth', async (t) => {
    const cases = [
      {
        template: 'github',
        path: '/applications/broker-client/grant',
        method: 'DELETE',
        check: (r: (typeof stub.requests)[0]) => {
          assert.equal(r.body.access_token, 'gh-at')
          assert.equal(Buffer.from(String(r.headers.authorization).slice(6), 'base64').toString(), 'broker-client:broker-secret')
        },
      },
      { template: 'hubspot', path: '/refresh-tokens/hs-rt', method: 'DELETE', check: () => {} },
      {
        template: 'google',
        path: '/revoke',
        method: 'POST',
        check: (r: (typeof stub.requests)[0]) => {
          assert.equal(r.body.token, 'google-rt')
          assert.equal(r.headers.authorization, undefined)
          assert.equal(r.body.client_secret, undefined)
        },
      },
    ]
    for (const c of cases) {
      stub.requests.length = 0
      const revocationUrl =
        c.template === 'github'
          ? `${stub.url}/applications/{client_id}/grant`
          : c.template === 'hubspot'
            ? `${stub.url}/refresh-tokens`
            : `${stub.url}/revoke`
      const { app } = await brokerFor(stub, { provider: { template: c.template, revocation_url: revocationUrl } })
      t.after(() => app.close())
      stub.handle(c.path, (_req, res) => {
        res.writeHead(c.template === 'github' ? 204 : 200).end()
      })
      const prefix = c.template === 'github' ? 'gh' : c.template === 'hubspot' ? 'hs' : 'google'
      await importGrant(app, `acct-${prefix}`, { access_token: `${prefix}-at`, refresh_token: `${prefix}-rt`, expires_in: 600 })
      const res = await revoke(app, `acct-${prefix}`)
      assert.equal(res.json().provider_revocation, 'succeeded', c.template)
      const sent = stub.requests.find((r) => r.path === c.path)
      assert.ok(sent, `${c.template} called ${c.path}`)
      c.check(sent)
    }
  })
})
