import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { countSealedByKey, resealAll } from '../../src/broker/key-rotation.js'
import type { Store } from '../../src/store/store.js'
import { bearer, keyRingOf } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { getAccess, importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { K1, K2 } from './keys.js'
import { strictRotation } from './strict-rotation.js'

let redis: RedisServer
let stub: StubProvider
let rotation: ReturnType<typeof strictRotation>
before(async () => {
  redis = await startRedis()
  stub = await startStubProvider()
  rotation = strictRotation()
  stub.handle('/token', rotation.handler)
})
after(async () => {
  await stub.close()
  await redis.dispose()
})

/** The reseal's clock in tests that check the recorded progress. */
const T = Date.UTC(2026, 10, 27, 12)
let prefixes = 0
const apps: FastifyInstance[] = []
after(() => Promise.all(apps.map((a) => a.close())))

/** A broker on the shared Redis under `prefix`, with these ENCRYPTION_KEYS. */
async function broker(prefix: string, keys: string) {
  const { app } = await brokerFor(stub, { redis, env: { ENCRYPTION_KEYS: keys, REDIS_KEY_PREFIX: prefix } })
  apps.push(app)
  return { app, store: app.storage.grants, keyRing: keyRingOf(app) }
}

/** `n` accounts imported with k1 as the only key: `rt-<account>-0` is their provider's current refresh token. */
async function accountsSealedWithK1(n: number) {
  const prefix = `reseal${++prefixes}:`
  const { app } = await broker(prefix, K1)
  const accounts = Array.from({ length: n }, (_, i) => `p${prefixes}-acct-${String(i).padStart(4, '0')}`)
  for (const account of accounts) {
    await importGrant(app, account, { access_token: `at-${account}-0`, refresh_token: `rt-${account}-0`, expires_in: 3600 })
  }
  return { prefix, accounts }
}

const refresh = (app: FastifyInstance, account: string) =>
  app.inject({ method: 'POST', url: `/tokens/${account}/refresh`, headers: bearer() })

/** With only the new key configured, every account serves the provider's newest token and refreshes once more. */
async function servedWithK2Only(prefix: string, accounts: string[]) {
  const { app } = await broker(prefix, K2)
  for (const account of accounts) {
    const res = await getAccess(app, account)
    assert.equal(res.statusCode, 200, `${account}: ${res.body}`)
    assert.equal(res.json().access_token, rotation.latestAccess(account))
    const next = await refresh(app, account)
    assert.equal(next.statusCode, 200, `${account}: ${next.body}`)
    assert.equal(next.json().access_token, rotation.latestAccess(account))
  }
  assert.deepEqual(rotation.rejected, [], 'no refresh token was lost or written back stale')
}

describe('keys reseal', () => {
  test('beside live refreshes, interrupted and resumed where it stopped, after which k1 can be dropped', async () => {
    const { prefix, accounts } = await accountsSealedWithK1(120)
    const live = await broker(prefix, `${K2},${K1}`)
    assert.deepEqual(await countSealedByKey(live.store), new Map([['k1', 240]]))

    let resealing = true
    const statuses: number[] = []
    const traffic = Array.from({ length: 4 }, async (_, lane) => {
      for (let i = lane; resealing; i += 7) {
        statuses.push((await refresh(live.app, accounts[i % accounts.length]!)).statusCode)
      }
    })
    let batches = 0
    const first = await resealAll(live.store, live.keyRing, { batch: 10, stop: () => ++batches >= 4, clock: () => T })
    assert.equal(first.counts.accounts, 40)
    assert.equal(first.cursor, accounts[39])
    const midway = await countSealedByKey(live.store)
    assert.ok((midway.get('k1') ?? 0) > 0, 'the interrupted run left values under k1')
    assert.deepEqual(await live.store.getResealProgress(), {
      keyId: 'k2',
      cursor: accounts[39],
      accounts: 40,
      resealed: first.counts.resealed,
      startedAt: T,
      updatedAt: T,
    })

    let resumedFrom: string | null = null
    const rest = await resealAll(live.store, live.keyRing, {
      batch: 10,
      onStart: ({ resumed }) => {
        resumedFrom = resumed?.cursor ?? null
      },
    })
    assert.equal(resumedFrom, accounts[39], 'resumed where the first run stopped, without being told')
    assert.equal(await live.store.getResealProgress(), null, 'a walk to the end clears the progress')
    resealing = false
    await Promise.all(traffic)
    assert.equal(rest.cursor, null)
    assert.equal(first.counts.accounts + rest.counts.accounts, accounts.length)
    assert.equal(first.counts.unreadable + rest.counts.unreadable + first.counts.skipped + rest.counts.skipped, 0)
    assert.ok(statuses.length > 0, 'refreshes ran during the reseal')
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    )
    assert.deepEqual(await countSealedByKey(live.store), new Map([['k2', 240]]))

    await servedWithK2Only(prefix, accounts)
  })

  test('the progress of a reseal to another key is set aside: the walk starts at the first account', async () => {
    const { prefix, accounts } = await accountsSealedWithK1(3)
    const live = await broker(prefix, `${K2},${K1}`)
    const stale = { keyId: 'k9', cursor: accounts[1]!, accounts: 2, resealed: 4, startedAt: T, updatedAt: T }
    await live.store.setResealProgress(stale)
    let setAside: unknown = null
    const run = await resealAll(live.store, live.keyRing, {
      batch: 10,
      onStart: (start) => {
        setAside = start.setAside
      },
    })
    assert.deepEqual(setAside, stale)
    assert.equal(run.counts.accounts, 3)
    assert.equal(await live.store.getResealProgress(), null)
  })

  test('a refresh at the provider while its grant is resealed still commits', async () => {
    const {
      prefix,
      accounts: [account],
    } = await accountsSealedWithK1(1)
    const live = await broker(prefix, `${K2},${K1}`)
    const held = rotation.hold(account!)
    const inFlight = refresh(live.app, account!)
    await held.arrived
    const run = await resealAll(live.store, live.keyRing, { from: null, batch: 10 })
    assert.deepEqual(run.counts, { accounts: 1, resealed: 2, current: 0, unreadable: 0, skipped: 0 })
    held.release()
    const res = await inFlight
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().access_token, `at-${account}-1`)
    await servedWithK2Only(prefix, [account!])
  })

  test("a refresh committed between the reseal's read and its write wins; the reseal reads again", async () => {
    const { prefix, accounts } = await accountsSealedWithK1(3)
    const live = await broker(prefix, `${K2},${K1}`)
    const target = accounts[1]!
    let raced = false
    // The store as the reseal sees it: the first rewrite of `target` comes after a refresh committed.
    const racing: Store = Object.create(live.store, {
      resealGrant: {
        value: async (...args: Parameters<Store['resealGrant']>) => {
          if (args[0] === target && !raced) {
            raced = true
            assert.equal((await refresh(live.app, target)).statusCode, 200)
          }
          return live.store.resealGrant(...args)
        },
      },
    })
    const run = await resealAll(racing, live.keyRing, { from: null, batch: 10 })
    assert.ok(raced)
    assert.deepEqual(run.counts, { accounts: 3, resealed: 4, current: 2, unreadable: 0, skipped: 0 })
    assert.deepEqual(await countSealedByKey(live.store), new Map([['k2', 6]]))
    await servedWithK2Only(prefix, accounts)
  })

  test('a value no configured key opens is counted and left as it is', async () => {
    const { prefix, accounts } = await accountsSealedWithK1(2)
    const k3 = `k3:${Buffer.alloc(32, 3).toString('base64')}`
    const stranger = await broker(prefix, k3)
    await importGrant(stranger.app, accounts[0]!, {
      access_token: `at-${accounts[0]}-0`,
      refresh_token: `rt-${accounts[0]}-0`,
      expires_in: 3600,
    })
    const live = await broker(prefix, `${K2},${K1}`)
    const run = await resealAll(live.store, live.keyRing, { from: null, batch: 10 })
    assert.deepEqual(run.counts, { accounts: 2, resealed: 2, current: 0, unreadable: 2, skipped: 0 })
    assert.deepEqual(
      await countSealedByKey(live.store),
      new Map([
        ['k3', 2],
        ['k2', 2],
      ]),
    )
  })
})
