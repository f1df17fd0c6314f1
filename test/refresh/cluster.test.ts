import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { bearer } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'

/** One Redis Cluster (3 masters) for the file; each test uses its own key prefix. */
let cluster: RedisCluster
let stub: StubProvider
before(async () => {
  ;[cluster, stub] = await Promise.all([startRedisCluster({ masters: 3 }), startStubProvider()])
})
after(async () => {
  await stub?.close()
  await cluster?.stop()
})

const headers = bearer()

/** Broker instances on the cluster (REDIS_CLUSTER_NODES), each on a real listener, ready. */
async function instances(n: number, prefix: string, env: Record<string, string> = {}) {
  const apps: FastifyInstance[] = []
  try {
    for (let i = 0; i < n; i++) {
      const { app } = await brokerFor(stub, { redis: { clusterNodes: cluster.envValue }, env: { REDIS_KEY_PREFIX: prefix, ...env } })
      apps.push(app)
      await app.listen({ port: 0, host: '127.0.0.1' })
      const ready = await app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(ready.statusCode, 200, `instance ${i} is ready on the cluster: ${ready.body}`)
    }
  } catch (error) {
    await Promise.all(apps.map((a) => a.close()))
    throw error
  }
  const urls = apps.map((a) => `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`)
  return { apps, urls, close: () => Promise.all(apps.map((a) => a.close())) }
}

/** `perNode` account ids for every master: their {account} hash tags land in slots of each node. */
const accountsOnEveryNode = async (stem: string, perNode: number) => [...(await cluster.idsOnEveryNode(stem, perNode)).values()].flat()

test('100 concurrent requests per account on 2 instances, accounts on every node: one refresh and one token per account', async (t) => {
  stub.requests.length = 0
  stub.handle('/token', rotatingTokens('cl-', { delayMs: 100 }))
  const prefix = `cl1${randomUUID()}:`
  const brokers = await instances(2, prefix)
  t.after(() => brokers.close())
  const accounts = await accountsOnEveryNode('acct', 2)
  for (const account of accounts) {
    await importGrant(brokers.apps[0]!, account, { access_token: `old-${account}`, refresh_token: `rt-0-${account}`, expires_in: 30 })
  }
  // The grants really are spread: every master holds some of them.
  const holders = await Promise.all(cluster.nodes.map((n) => cluster.keysOn(n.port, `${prefix}{*}:grant`)))
  assert.deepEqual(
    holders.map((keys) => keys.length),
    cluster.nodes.map(() => 2),
  )

  const answers = await Promise.all(
    accounts.flatMap((account) =>
      Array.from({ length: 100 }, async (_, i) => {
        const res = await fetch(`${brokers.urls[i % 2]}/tokens/${account}/access`, { headers })
        return { account, status: res.status, body: (await res.json()) as { access_token: string } }
      }),
    ),
  )
  assert.deepEqual(
    answers.filter((a) => a.status !== 200),
    [],
  )

  const tokens = new Map<string, Set<string>>()
  for (const a of answers) tokens.set(a.account, (tokens.get(a.account) ?? new Set()).add(a.body.access_token))
  for (const account of accounts) {
    const handedOut = [...tokens.get(account)!]
    assert.equal(handedOut.length, 1, `${account}: one token for all 100 callers, got ${handedOut.join(', ')}`)
    assert.match(handedOut[0]!, /^cl-at-\d+$/, `${account}: the refreshed token`)
    const calls = stub.requests.filter((r) => r.path === '/token' && r.body.refresh_token === `rt-0-${account}`)
    assert.equal(calls.length, 1, `${account}: exactly one provider call`)
  }
  assert.equal(new Set([...tokens.values()].map((s) => [...s][0])).size, accounts.length, 'each account its own token')
  assert.equal(stub.count('/token'), accounts.length)
})

test('DELETE /tokens/:account on the cluster; GET /audit shows what happened, from either instance', async (t) => {
  stub.requests.length = 0
  stub.handle('/token', rotatingTokens('del-', { delayMs: 10 }))
  const brokers = await instances(2, `cl2${randomUUID()}:`)
  t.after(() => brokers.close())
  const [a, b] = brokers.apps as [FastifyInstance, FastifyInstance]
  const accounts = await accountsOnEveryNode('gone', 1)
  for (const account of accounts) {
    await importGrant(a, account, { access_token: `old-${account}`, refresh_token: `rt-0-${account}`, expires_in: 30 })
    assert.equal((await b.inject({ method: 'GET', url: `/tokens/${account}/access`, headers })).statusCode, 200)
  }

  for (const [i, account] of accounts.entries()) {
    const deleter = i % 2 === 0 ? a : b
    const res = await deleter.inject({ method: 'DELETE', url: `/tokens/${account}`, headers })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), { account, revoked: true, provider_revocation: 'not_supported' })
    for (const app of [a, b]) {
      assert.equal((await app.inject({ method: 'GET', url: `/tokens/${account}/access`, headers })).statusCode, 404)
      assert.equal((await app.inject({ method: 'GET', url: `/accounts/${account}`, headers })).statusCode, 404)
    }
    assert.equal((await deleter.inject({ method: 'DELETE', url: `/tokens/${account}`, headers })).statusCode, 404)
  }
  const listed = await b.inject({ method: 'GET', url: '/accounts', headers })
  assert.equal(listed.statusCode, 200)
  assert.deepEqual(listed.json().accounts, [])

  // Events reach the stream shortly after the requests (the sink never blocks a request).
  type Entry = { event: string; account: string | null }
  for (const reader of [a, b]) {
    const entries = await waitFor('every event in the audit trail', async () => {
      const res = await reader.inject({ method: 'GET', url: '/audit?limit=500', headers })
      assert.equal(res.statusCode, 200, res.body)
      const got = res.json().entries as Entry[]
      const has = (event: string, account: string) => got.some((e) => e.event === event && e.account === account)
      return accounts.every((acc) => has('account.imported', acc) && has('account.refreshed', acc) && has('account.revoked', acc))
        ? got
        : undefined
    })
    assert.ok(entries.length >= accounts.length * 3)
    const forOne = await reader.inject({ method: 'GET', url: `/audit?account=${accounts[0]}`, headers })
    assert.deepEqual(
      (forOne.json().entries as Entry[]).map((e) => e.event),
      ['account.imported', 'account.refreshed', 'account.revoked'],
    )
  }
})

test('RATE_LIMIT_PER_MINUTE on the cluster: the budget is shared by the instances, 429 after it', async (t) => {
  const brokers = await instances(2, `cl3${randomUUID()}:`, { RATE_LIMIT_PER_MINUTE: 'accounts:read=5,*=100' })
  t.after(() => brokers.close())
  const [a, b] = brokers.apps as [FastifyInstance, FastifyInstance]
  const alice = bearer({ sub: 'alice' })
  const statuses: number[] = []
  for (let i = 0; i < 7; i++) {
    statuses.push((await (i % 2 ? a : b).inject({ method: 'GET', url: '/accounts', headers: alice })).statusCode)
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429])
  const limited = await a.inject({ method: 'GET', url: '/accounts', headers: alice })
  assert.equal(limited.json().code, 'RATE_LIMITED')
  assert.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)
  // Other callers have their own budgets, wherever their counter's slot is.
  for (const sub of ['bob', 'carol', 'dave', 'erin']) {
    assert.equal((await b.inject({ method: 'GET', url: '/accounts', headers: bearer({ sub }) })).statusCode, 200, sub)
  }
})
