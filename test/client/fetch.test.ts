import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { TokenBrokerClient } from '../../src/client/index.js'
import { callerToken } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { json } from '../helpers/stub-provider.js'
import { providerApi, startBroker } from './setup.js'

const redis = new RedisFixture()
after(() => redis.dispose())

describe('client.fetch', () => {
  test('a hundred callers hitting the same 401 cause one refresh call and one provider refresh', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    // Valid for an hour as far as the broker knows, but the provider no longer accepts it.
    await importGrant(broker.app, 'crm', { access_token: 'revoked-at', refresh_token: 'rt-0', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })
    await client.getToken('crm')

    const answers = await Promise.all(Array.from({ length: 100 }, () => client.fetch('crm', `${broker.stub.url}/api/echo`)))
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(100).fill(200),
    )
    assert.deepEqual(await answers[0]!.json(), { authorization: 'Bearer at-1', body: {} })
    assert.equal(broker.count('GET', '/tokens/crm/access'), 1)
    assert.equal(broker.count('POST', '/tokens/crm/refresh'), 1, 'one refresh call from the client')
    assert.equal(broker.stub.count('/token'), 1, 'one refresh at the provider')
    assert.equal(broker.stub.count('/api/echo'), 200, 'each caller: the 401, then the retry')

    // The refreshed token is cached: the next call goes straight through.
    assert.equal((await client.fetch('crm', `${broker.stub.url}/api/echo`)).status, 200)
    assert.equal(broker.hits.length, 2)
  })

  test('two client processes hitting the same 401: one refresh call each, still one provider refresh', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    await importGrant(broker.app, 'crm', { access_token: 'revoked-at', refresh_token: 'rt-0', expires_in: 3600 })
    const clients = [0, 1].map(() => new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() }))
    await Promise.all(clients.map((c) => c.getToken('crm')))
    const answers = await Promise.all(
      clients.flatMap((c) => Array.from({ length: 25 }, () => c.fetch('crm', `${broker.stub.url}/api/echo`))),
    )
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(50).fill(200),
    )
    assert.equal(broker.count('POST', '/tokens/crm/refresh'), 2)
    assert.equal(broker.stub.count('/token'), 1, 'the broker sees the second rejected token is no longer current')
  })

  test('the request is replayed with its method, headers and body, and the second answer is returned whatever it is', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    broker.stub.handle('/api/always-401', (req, res) =>
      json(res, 401, { seen: req.headers.authorization, body: req.body, trace: req.headers['x-trace'] }),
    )
    await importGrant(broker.app, 'crm', { access_token: 'revoked-at', refresh_token: 'rt-0', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })

    const answer = await client.fetch('crm', `${broker.stub.url}/api/always-401`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-trace': 't-1' },
      body: JSON.stringify({ n: 1 }),
    })
    assert.equal(answer.status, 401)
    assert.deepEqual(await answer.json(), { seen: 'Bearer at-1', body: { n: 1 }, trace: 't-1' })
    const seen = broker.stub.requests.filter((r) => r.path === '/api/always-401').map((r) => [r.headers.authorization, r.body])
    assert.deepEqual(seen, [
      ['Bearer revoked-at', { n: 1 }],
      ['Bearer at-1', { n: 1 }],
    ])
    assert.equal(broker.count('POST', '/tokens/crm/refresh'), 1, 'retried once, not in a loop')
    assert.equal(broker.stub.count('/token'), 1)
  })

  test('an answer other than 401 is returned as it is, without a refresh', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    broker.stub.handle('/api/forbidden', (_req, res) => json(res, 403, { error: 'nope' }))
    await importGrant(broker.app, 'crm', { access_token: 'some-at', refresh_token: 'rt-0', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })
    const answer = await client.fetch('crm', new Request(`${broker.stub.url}/api/forbidden`))
    assert.equal(answer.status, 403)
    assert.equal(broker.count('POST', '/tokens/crm/refresh'), 0)
    assert.equal(broker.stub.count('/api/forbidden'), 1)
  })
})
