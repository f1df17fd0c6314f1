import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { TokenBrokerClient } from '../../src/client/index.js'
import { callerToken } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { realTimePassed } from '../helpers/wait.js'
import { providerApi, startBroker } from './setup.js'

const redis = new RedisFixture()
after(() => redis.dispose())

describe('getToken', () => {
  test('caches per account until expiry minus the skew: one broker call for many reads', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    await importGrant(broker.app, 'crm', { access_token: 'imported-at', refresh_token: 'rt-0', expires_in: 3600, scope: 'read' })
    await importGrant(broker.app, 'erp', { access_token: 'erp-at', refresh_token: 'rt-e', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })

    const first = await client.getToken('crm')
    assert.equal(first.accessToken, 'imported-at')
    assert.equal(first.tokenType, 'Bearer')
    assert.equal(first.scope, 'read')
    assert.ok(first.expiresAt instanceof Date)
    for (let i = 0; i < 5; i++) assert.deepEqual(await client.getToken('crm'), first)
    assert.deepEqual(await client.getToken('crm', { minTtl: 3000 }), first, 'enough time left for minTtl: cached')
    assert.equal(broker.count('GET', '/tokens/crm/access'), 1)

    assert.equal((await client.getToken('erp')).accessToken, 'erp-at')
    assert.equal((await client.getToken('erp')).accessToken, 'erp-at')
    assert.equal(broker.count('GET', '/tokens/erp/access'), 1, 'each account is cached on its own')
    assert.equal(broker.stub.count('/token'), 0, 'the provider was never asked')
  })

  test('never hands out a cached token with less than minTtl left: it asks the broker with min_ttl', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    await importGrant(broker.app, 'crm', { access_token: 'imported-at', refresh_token: 'rt-0', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })
    assert.equal((await client.getToken('crm')).accessToken, 'imported-at')
    // Less than 3600 s are left on the imported token: the broker refreshes it once.
    const fresh = await client.getToken('crm', { minTtl: 3600 })
    assert.equal(fresh.accessToken, 'at-1')
    assert.deepEqual(
      broker.hits.map((h) => h.url),
      ['/tokens/crm/access?min_ttl=0', '/tokens/crm/access?min_ttl=3600'],
    )
    assert.equal(broker.stub.count('/token'), 1)
    assert.equal((await client.getToken('crm')).accessToken, 'at-1', 'the newer token is cached')
    assert.equal(broker.hits.length, 2)
    await assert.rejects(client.getToken('crm', { minTtl: 3601 }), RangeError)
    await assert.rejects(client.getToken('crm', { minTtl: 1.5 }), RangeError)
  })

  test('a token goes stale at expiry minus half its lifetime when that is shorter than the skew', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub, 10)
    await importGrant(broker.app, 'short', { refresh_token: 'rt-0' })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken(), skewSeconds: 60 })
    const first = await client.getToken('short')
    assert.equal(first.accessToken, 'at-1')
    assert.equal((await client.getToken('short')).accessToken, 'at-1')
    assert.equal(broker.count('GET', '/tokens/short/access'), 1, 'cached while more than half of 10 s is left')
    // The client's cache reads the real clock: real time has to reach the stale point, half of
    // the expires_in it was given before expiry. That expires_in counts from the broker's
    // request to the provider, so on a busy machine it can be a second or two below 10.
    await realTimePassed(first.expiresAt!.getTime() - 3500, 10)
    await client.getToken('short')
    assert.equal(broker.count('GET', '/tokens/short/access'), 2, 'asked again once stale')
  })

  test('concurrent calls for one account share one broker request', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    await importGrant(broker.app, 'crm', { refresh_token: 'rt-0' })
    await importGrant(broker.app, 'erp', { access_token: 'erp-at', expires_in: 3600 })
    const client = new TokenBrokerClient({ baseUrl: broker.url, token: callerToken() })
    const tokens = await Promise.all([
      ...Array.from({ length: 40 }, () => client.getToken('crm')),
      ...Array.from({ length: 10 }, () => client.getToken('erp')),
    ])
    assert.deepEqual(new Set(tokens.map((x) => x.accessToken)), new Set(['at-1', 'erp-at']))
    assert.equal(broker.count('GET', '/tokens/crm/access'), 1)
    assert.equal(broker.count('GET', '/tokens/erp/access'), 1)
    assert.equal(broker.stub.count('/token'), 1)
  })

  test('the caller token may be a function, asked for every broker request (rotation)', async (t) => {
    const broker = await startBroker(t, redis)
    providerApi(broker.stub)
    await importGrant(broker.app, 'a1', { access_token: 'a1-at', expires_in: 3600 })
    await importGrant(broker.app, 'a2', { access_token: 'a2-at', expires_in: 3600 })
    let asked = 0
    const client = new TokenBrokerClient({
      baseUrl: broker.url,
      token: async () => {
        asked++
        return callerToken({ sub: `rotated-${asked}` })
      },
    })
    assert.equal((await client.getToken('a1')).accessToken, 'a1-at')
    assert.equal((await client.getToken('a1')).accessToken, 'a1-at')
    assert.equal((await client.getToken('a2')).accessToken, 'a2-at')
    assert.equal(asked, 2, 'once per broker request, not per getToken')
  })
})
