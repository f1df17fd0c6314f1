/**
 * Provider quirks, end to end through the broker's refresh path: a built-in template whose
 * endpoints point at a loopback stub (endpoint fields next to `template` override it).
 */
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { json, rotatingTokens, startStubProvider, type StubProvider, type StubRequest } from '../helpers/stub-provider.js'

/** A broker whose provider `stub` uses `template`, its token endpoint at a fresh stub. */
async function broker(t: TestContext, template: string, provider: Record<string, unknown> = {}) {
  const stub = await startStubProvider()
  const { app } = await brokerFor(stub, { provider: { template, token_url: `${stub.url}/token`, ...provider } })
  t.after(async () => {
    await app.close()
    await stub.close()
  })
  return { app, stub }
}

const expired = () => new Date(Date.now() - 1000).toISOString()
const account = (app: FastifyInstance, id: string) =>
  app.inject({ method: 'GET', url: `/accounts/${id}`, headers: bearer() }).then((r) => r.json())
const forceRefresh = (app: FastifyInstance, id: string) => app.inject({ method: 'POST', url: `/tokens/${id}/refresh`, headers: bearer() })
const storedMeta = async (app: FastifyInstance, id: string) => {
  const grant = await app.storage.grants.getGrant(id)
  return grant?.meta ? (JSON.parse(grant.meta) as Record<string, string>) : null
}
const basic = (req: StubRequest) => {
  const header = String(req.headers.authorization ?? '')
  if (!header.startsWith('Basic ')) return null
  return Buffer.from(header.slice(6), 'base64').toString('utf8')
}

/** A dead grant: 409 now, reauth_required with REFRESH_TOKEN_INVALID, and no further provider call. */
async function assertDeadGrant(app: FastifyInstance, stub: StubProvider, id: string) {
  const res = await getAccess(app, id)
  assert.equal(res.statusCode, 409, res.body)
  assert.equal(res.json().code, 'REAUTHENTICATION_REQUIRED')
  const meta = await account(app, id)
  assert.equal(meta.status, 'reauth_required')
  assert.equal(meta.last_error.code, 'REFRESH_TOKEN_INVALID')
  assert.equal((await getAccess(app, id)).statusCode, 409)
  assert.equal(stub.count('/token'), 1)
}

describe('github', () => {
  test('an error in an HTTP 200 body (bad_refresh_token) is a dead grant', async (t) => {
    const { app, stub } = await broker(t, 'github')
    stub.handle('/token', (_req, res) =>
      json(res, 200, {
        error: 'bad_refresh_token',
        error_description: 'The refresh token passed is incorrect or expired.',
      }),
    )
    await importGrant(app, 'gh-dead', { access_token: 'ghu_old', refresh_token: 'ghr_old', expires_at: expired() })
    await assertDeadGrant(app, stub, 'gh-dead')
  })

  test('a form-encoded answer is parsed, scopes normalized, the request asks for JSON with the client in the body', async (t) => {
    const { app, stub } = await broker(t, 'github')
    let n = 0
    stub.handle('/token', (_req, res) => {
      n++
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }).end(
        new URLSearchParams({
          access_token: `ghu_new${n}`,
          expires_in: '28800',
          refresh_token: `ghr_new${n}`,
          refresh_token_expires_in: '15811200',
          scope: 'repo,read:org',
          token_type: 'bearer',
        }).toString(),
      )
    })
    await importGrant(app, 'gh', { access_token: 'ghu_old', refresh_token: 'ghr_old', expires_in: 10 })
    const res = await getAccess(app, 'gh')
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assert.equal(body.access_token, 'ghu_new1')
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.scope, 'repo read:org')
    assert.ok(body.expires_in > 28_700 && body.expires_in <= 28_800)
    const [sent] = stub.requests
    assert.equal(sent!.headers.accept, 'application/json')
    assert.equal(sent!.body.client_id, 'broker-client')
    assert.equal(sent!.body.client_secret, 'broker-secret')
    assert.equal(sent!.headers.authorization, undefined)
    // The single-use refresh token rotated.
    assert.equal((await forceRefresh(app, 'gh')).json().access_token, 'ghu_new2')
    assert.equal(stub.requests[1]!.body.refresh_token, 'ghr_new1')
  })

  test('incorrect_client_credentials in HTTP 200 moves on to the next client secret', async (t) => {
    const { app, stub } = await broker(t, 'github', { client_secret: ['rotated-secret', 'current-secret'] })
    stub.handle('/token', (req, res) =>
      req.body.client_secret === 'current-secret'
        ? json(res, 200, { access_token: 'ghu_ok', token_type: 'bearer', scope: '' })
        : json(res, 200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          }),
    )
    await importGrant(app, 'gh-secret', { access_token: 'old', refresh_token: 'ghr', expires_at: expired() })
    const res = await getAccess(app, 'gh-secret')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().access_token, 'ghu_ok')
    assert.deepEqual(
      stub.requests.map((r) => r.body.client_secret),
      ['rotated-secret', 'current-secret'],
    )
  })
})

describe('slack', () => {
  test('{ ok: false, error: invalid_refresh_token } with HTTP 200 is a dead grant', async (t) => {
    const { app, stub } = await broker(t, 'slack')
    stub.handle('/token', (_req, res) => json(res, 200, { ok: false, error: 'invalid_refresh_token' }))
    await importGrant(app, 'sl-dead', { access_token: 'xoxe.xoxp-old', refresh_token: 'xoxe-1-old', expires_at: expired() })
    await assertDeadGrant(app, stub, 'sl-dead')
  })

  test('the user token under authed_user is used, not the bot token; Basic client auth', async (t) => {
    const { app, stub } = await broker(t, 'slack')
    let n = 0
    stub.handle('/token', (_req, res) => {
      n++
      json(res, 200, {
        ok: true,
        app_id: 'A1',
        token_type: 'bot',
        access_token: `xoxb-bot-${n}`,
        scope: 'commands',
        team: { id: 'T1', name: 'Team' },
        authed_user: {
          id: 'U1',
          scope: 'chat:write,users:read',
          token_type: 'user',
          access_token: `xoxe.xoxp-user-${n}`,
          refresh_token: `xoxe-1-user-${n}`,
          expires_in: 43_200,
        },
      })
    })
    await importGrant(app, 'sl', { access_token: 'xoxe.xoxp-old', refresh_token: 'xoxe-1-old', expires_in: 10 })
    const res = await getAccess(app, 'sl')
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assert.equal(body.access_token, 'xoxe.xoxp-user-1')
    assert.equal(body.token_type, 'Bearer', 'Slack\'s "user" is not an HTTP scheme')
    assert.equal(body.scope, 'chat:write users:read')
    assert.ok(body.expires_in > 43_100)
    assert.equal(basic(stub.requests[0]!), 'broker-client:broker-secret')
    assert.equal(stub.requests[0]!.body.client_secret, undefined)
    await forceRefresh(app, 'sl')
    assert.equal(stub.requests[1]!.body.refresh_token, 'xoxe-1-user-1', "the user's rotated refresh token was stored")
  })
})

describe('salesforce', () => {
  test("no expires_in: the template's 2-hour session is assumed; instance_url is kept as metadata; the refresh token is kept", async (t) => {
    const { app, stub } = await broker(t, 'salesforce')
    stub.handle('/token', (_req, res) =>
      json(res, 200, {
        access_token: '00Dx0000000BV7z!AR8AQ',
        signature: 'SSSbLO/gBhmmyNUvN18ODBDFYHzakxOMgqYtu+hDPsc=',
        scope: 'id api refresh_token',
        instance_url: 'https://acme.my.salesforce.com',
        id: 'https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P',
        token_type: 'Bearer',
        issued_at: '1278448384422',
      }),
    )
    await importGrant(app, 'sf', { access_token: 'old', refresh_token: 'sf-refresh', expires_at: expired() })
    const res = await getAccess(app, 'sf')
    assert.equal(res.statusCode, 200, res.body)
    // Salesforce sends no lifetime; the template's default_expires_in (7200 s) keeps the token refreshed.
    assert.ok(res.json().expires_in > 7190 && res.json().expires_in <= 7200, res.body)
    assert.equal((await account(app, 'sf')).expires_at, res.json().expires_at)
    assert.deepEqual(await storedMeta(app, 'sf'), {
      instance_url: 'https://acme.my.salesforce.com',
      id: 'https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P',
    })
    assert.equal(stub.requests[0]!.body.client_secret, 'broker-secret', 'client_secret_post')
    await forceRefresh(app, 'sf')
    assert.deepEqual(
      stub.requests.map((r) => r.body.refresh_token),
      ['sf-refresh', 'sf-refresh'],
    )
  })
})

describe('notion', () => {
  test('Basic client auth, a JSON body and the Notion-Version header', async (t) => {
    const { app, stub } = await broker(t, 'notion')
    stub.handle('/token', (_req, res) =>
      json(res, 200, {
        access_token: 'ntn_new',
        token_type: 'bearer',
        refresh_token: 'nrt_new',
        bot_id: 'b-1',
        workspace_id: 'w-1',
        workspace_name: 'Acme',
        workspace_icon: null,
        owner: { type: 'user' },
        request_id: 'r-1',
      }),
    )
    await importGrant(app, 'no', { access_token: 'old', refresh_token: 'nrt_old', expires_at: expired() })
    const res = await getAccess(app, 'no')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().access_token, 'ntn_new')
    const [sent] = stub.requests
    assert.equal(basic(sent!), 'broker-client:broker-secret')
    assert.match(String(sent!.headers['content-type']), /^application\/json/)
    assert.deepEqual(sent!.body, { grant_type: 'refresh_token', refresh_token: 'nrt_old' })
    assert.match(String(sent!.headers['notion-version']), /^\d{4}-\d{2}-\d{2}$/)
    assert.deepEqual(await storedMeta(app, 'no'), { bot_id: 'b-1', workspace_id: 'w-1', workspace_name: 'Acme' })
  })
})

describe('hubspot', () => {
  test('an error named in `status` (BAD_REFRESH_TOKEN) is a dead grant', async (t) => {
    const { app, stub } = await broker(t, 'hubspot')
    stub.handle('/token', (_req, res) =>
      json(res, 400, {
        status: 'BAD_REFRESH_TOKEN',
        message: 'missing or invalid refresh token',
        correlationId: 'c-1',
      }),
    )
    await importGrant(app, 'hs-dead', { access_token: 'old', refresh_token: 'hs-rt', expires_at: expired() })
    await assertDeadGrant(app, stub, 'hs-dead')
    assert.equal(stub.requests[0]!.body.client_secret, 'broker-secret', 'client_secret_post')
  })
})

describe('google', () => {
  test('a refresh answer without a refresh token keeps the stored one', async (t) => {
    const { app, stub } = await broker(t, 'google')
    stub.handle('/token', rotatingTokens('g-', { rotate: false, expiresIn: 3599 }))
    await importGrant(app, 'g', { access_token: 'old', refresh_token: '1//keep-me', expires_in: 10 })
    assert.equal((await getAccess(app, 'g')).json().access_token, 'g-at-1')
    assert.equal((await forceRefresh(app, 'g')).json().access_token, 'g-at-2')
    assert.deepEqual(
      stub.requests.map((r) => r.body.refresh_token),
      ['1//keep-me', '1//keep-me'],
    )
    assert.equal(stub.requests[0]!.body.client_id, 'broker-client')
    assert.equal(stub.requests[0]!.body.scope, undefined, 'Google needs no scope on refresh')
  })
})

describe('microsoft', () => {
  test('a refresh carries the configured scopes, space-separated, and the client in the body', async (t) => {
    const { app, stub } = await broker(t, 'microsoft', { params: { tenant: 'contoso' } })
    stub.handle('/token', rotatingTokens('ms-'))
    await importGrant(app, 'ms', { access_token: 'old', refresh_token: 'ms-rt-0', expires_at: expired() })
    assert.equal((await getAccess(app, 'ms')).json().access_token, 'ms-at-1')
    const [sent] = stub.requests
    assert.equal(sent!.body.scope, 'openid profile offline_access User.Read')
    assert.equal(sent!.body.client_id, 'broker-client')
    assert.equal(sent!.body.client_secret, 'broker-secret')
    assert.equal(sent!.body.refresh_token, 'ms-rt-0')
  })

  test("the providers file's scopes replace the template's on refresh too", async (t) => {
    const { app, stub } = await broker(t, 'microsoft', { scopes: ['offline_access', 'https://graph.microsoft.com/Mail.Read'] })
    stub.handle('/token', rotatingTokens('ms-'))
    await importGrant(app, 'ms2', { access_token: 'old', refresh_token: 'rt', expires_at: expired() })
    assert.equal((await getAccess(app, 'ms2')).statusCode, 200)
    assert.equal(stub.requests[0]!.body.scope, 'offline_access https://graph.microsoft.com/Mail.Read')
  })
})

describe('microsoft, a grant linked with a narrower scope', () => {
  test("a refresh asks for the grant's own scope, not the configured default", async (t) => {
    const { app, stub } = await broker(t, 'microsoft')
    stub.handle('/token', rotatingTokens('ms-'))
    await importGrant(app, 'narrow', { access_token: 'old', refresh_token: 'rt', expires_at: expired(), scope: 'offline_access Mail.Read' })
    assert.equal((await getAccess(app, 'narrow')).statusCode, 200)
    assert.equal(stub.requests[0]!.body.scope, 'offline_access Mail.Read')
  })
})

describe('any provider', () => {
  test('expires_in as a string, and a missing token_type, are understood', async (t) => {
    const { app, stub } = await broker(t, 'oauth2')
    stub.handle('/token', (_req, res) =>
      json(res, 200, { access_token: 'str-at', expires_in: '3600', refresh_token: 'str-rt', extra: { ignored: true } }),
    )
    await importGrant(app, 'str', { access_token: 'old', refresh_token: 'rt', expires_at: expired() })
    const res = await getAccess(app, 'str')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().token_type, 'Bearer')
    assert.ok(res.json().expires_in > 3590 && res.json().expires_in <= 3600, `expires_in ${res.json().expires_in}`)
    assert.notEqual(res.json().expires_at, null)
  })

  test('client secrets are tried in order while the provider answers invalid_client', async (t) => {
    const { app, stub } = await broker(t, 'oauth2', { client_secret: ['next-secret', 'current-secret', 'never-tried'] })
    const tokens = rotatingTokens('sec-')
    stub.handle('/token', (req, res) =>
      basic(req) === 'broker-client:current-secret'
        ? tokens(req, res)
        : json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic' }),
    )
    await importGrant(app, 'sec', { access_token: 'old', refresh_token: 'rt', expires_at: expired() })
    const res = await getAccess(app, 'sec')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().access_token, 'sec-at-1')
    assert.deepEqual(stub.requests.map(basic), ['broker-client:next-secret', 'broker-client:current-secret'])
  })

  test('when every client secret is refused the account stays active (an operator problem, not a dead grant)', async (t) => {
    const { app, stub } = await broker(t, 'oauth2', { client_secret: ['a', 'b'] })
    stub.handle('/token', (_req, res) => json(res, 401, { error: 'invalid_client' }))
    await importGrant(app, 'sec2', { access_token: 'old', refresh_token: 'rt', expires_at: expired() })
    const res = await getAccess(app, 'sec2')
    assert.equal(res.statusCode, 502, res.body)
    assert.equal(res.json().code, 'PROVIDER_ERROR')
    assert.equal(stub.count('/token'), 2)
    const meta = await account(app, 'sec2')
    assert.equal(meta.status, 'active')
    assert.equal(meta.last_error.code, 'PROVIDER_ERROR')
  })
})
