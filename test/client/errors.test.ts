import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  AccountNotFoundError,
  ForbiddenError,
  ProviderUnavailableError,
  RateLimitedError,
  ReauthenticationRequiredError,
  TokenBrokerClient,
  TokenBrokerError,
  UnauthorizedError,
} from '../../src/client/index.js'
import { callerToken } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { freePort } from '../helpers/redis-server.js'
import { json } from '../helpers/stub-provider.js'
import { startBroker } from './setup.js'

const redis = new RedisFixture()
after(() => redis.dispose())

/** Asserts the promise rejects with exactly this class, code and status. */
async function rejectsWith(work: Promise<unknown>, type: new (...a: never[]) => TokenBrokerError, code: string, status: number) {
  const error = await work.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  )
  assert.ok(error instanceof TokenBrokerError, `a TokenBrokerError: ${String(error)}`)
  assert.equal(error.constructor, type)
  assert.equal(error.name, type.name)
  assert.equal(error.code, code)
  assert.equal(error.status, status)
  assert.match(error.requestId ?? '', status === 0 ? /^$/ : /\S/)
  return error
}

describe('typed errors carry the contract code', () => {
  test('404, 403, 401, 409 and a generic 400', async (t) => {
    const broker = await startBroker(t, redis)
    broker.stub.handle('/token', (_req, res) => json(res, 400, { error: 'invalid_grant' }))
    await importGrant(broker.app, 'dead', { access_token: 'old', refresh_token: 'rt-0', expires_in: 0 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })

    await rejectsWith(client.getToken('nobody'), AccountNotFoundError, 'ACCOUNT_NOT_FOUND', 404)
    const limited = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken({ accounts: ['other'] }) })
    await rejectsWith(limited.getToken('dead'), ForbiddenError, 'FORBIDDEN', 403)
    const forged = new TokenBrokerClient({
      baseUrl: broker.url,
      token: async () => callerToken({ secret: 'not-the-broker-secret-0123456789' }),
    })
    await rejectsWith(forged.getToken('dead'), UnauthorizedError, 'UNAUTHORIZED', 401)
    await rejectsWith(client.getToken('dead'), ReauthenticationRequiredError, 'REAUTHENTICATION_REQUIRED', 409)
    await rejectsWith(client.getToken('dead'), ReauthenticationRequiredError, 'REAUTHENTICATION_REQUIRED', 409)
    await rejectsWith(client.getToken('no spaces'), TokenBrokerError, 'VALIDATION_ERROR', 400)
    assert.equal(broker.stub.count('/token'), 1, 'one failed refresh; the 409 is not retried')
    assert.equal(broker.hits.length, 6)
  })

  test('429 is thrown at once with its Retry-After', async (t) => {
    const broker = await startBroker(t, redis, { RATE_LIMIT_PER_MINUTE: 'tokens:read=1' })
    await importGrant(broker.app, 'a1', { access_token: 'a1-at', expires_in: 3600 })
    await importGrant(broker.app, 'a2', { access_token: 'a2-at', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })
    assert.equal((await client.getToken('a1')).accessToken, 'a1-at')
    const error = await rejectsWith(client.getToken('a2'), RateLimitedError, 'RATE_LIMITED', 429)
    assert.ok(error.retryAfter !== null && error.retryAfter >= 1, `Retry-After: ${error.retryAfter}`)
    assert.equal(broker.hits.length, 2, 'no retry')
  })

  test('an unreachable broker', async () => {
    const client = new TokenBrokerClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, token: 'x' })
    await rejectsWith(client.getToken('a1'), TokenBrokerError, 'BROKER_UNREACHABLE', 0)
  })
})

describe('503 and Retry-After', () => {
  test('retried after each Retry-After until the token comes', async (t) => {
    const broker = await startBroker(t, redis, { PROVIDER_TIMEOUT_MS: '2000' })
    let calls = 0
    broker.stub.handle('/token', (_req, res) => {
      if (++calls <= 3) return json(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' })
      json(res, 200, { access_token: 'at-after-outage', refresh_token: 'rt-1', expires_in: 3600 })
    })
    await importGrant(broker.app, 'crm', { access_token: 'expired', refresh_token: 'rt-0', expires_in: 0 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken(), maxRetries: 5 })
    assert.equal((await client.getToken('crm')).accessToken, 'at-after-outage')
    const hits = broker.hits
    assert.ok(hits.length >= 2, `at least one 503 then the token: ${JSON.stringify(hits)}`)
    assert.equal(hits.at(-1)!.status, 200)
    for (let i = 0; i < hits.length - 1; i++) {
      assert.equal(hits[i]!.status, 503)
      const retryAfter = hits[i]!.retryAfter
      assert.ok(retryAfter !== undefined && retryAfter >= 1, 'the broker sent Retry-After')
      assert.ok(hits[i + 1]!.at - hits[i]!.at >= retryAfter * 1000, `waited Retry-After (${retryAfter} s) before asking again`)
    }
  })

  test('a bounded number of retries, then ProviderUnavailableError', async (t) => {
    const broker = await startBroker(t, redis, { PROVIDER_TIMEOUT_MS: '2000' })
    broker.stub.handle('/token', (_req, res) => json(res, 503, { error: 'down' }, { 'retry-after': '1' }))
    await importGrant(broker.app, 'crm', { access_token: 'expired', refresh_token: 'rt-0', expires_in: 0 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken(), maxRetries: 1 })
    const error = await rejectsWith(client.getToken('crm'), ProviderUnavailableError, 'PROVIDER_UNAVAILABLE', 503)
    assert.ok(error.retryAfter !== null && error.retryAfter >= 1)
    assert.equal(broker.count('GET', '/tokens/crm/access'), 2, 'the first request and one retry')
  })

  test('no retry when Retry-After ends past the deadline', async (t) => {
    const broker = await startBroker(t, redis, { PROVIDER_TIMEOUT_MS: '2000' })
    broker.stub.handle('/token', (_req, res) => json(res, 503, { error: 'down' }, { 'retry-after': '120' }))
    await importGrant(broker.app, 'crm', { access_token: 'expired', refresh_token: 'rt-0', expires_in: 0 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken(), maxRetries: 5, timeoutMs: 20_000 })
    const error = await rejectsWith(client.getToken('crm'), ProviderUnavailableError, 'PROVIDER_UNAVAILABLE', 503)
    assert.ok(error.retryAfter! > 20, `Retry-After ${error.retryAfter} is past the 20 s deadline`)
    assert.equal(broker.count('GET', '/tokens/crm/access'), 1)
  })
})
