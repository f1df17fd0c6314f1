import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { KeyRing } from '../../src/crypto/key-ring.js'
import { createRedisClient } from '../../src/store/redis-client.js'
import { StoreUnavailableError } from '../../src/errors.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { VIEW_FIELDS } from '../../src/store/record.js'
import type { Store } from '../../src/store/store.js'
import { readEvents, startRedis, type RedisServer } from '../helpers/redis-server.js'
import { grantWrite, refreshCommit, storeContract } from './store-contract.js'
import { recordChanges, waitFor, within } from '../helpers/wait.js'

const server = await startRedis()
after(() => server.dispose())

let stores = 0

/** A store on `redis` under its own key prefix, connected the way the app connects it. */
async function connectStore(redis: RedisServer, prefix = `t${++stores}:`, commandTimeoutMs = 2_000) {
  const client = createRedisClient({ kind: 'standalone', url: redis.url }, commandTimeoutMs)
  const store = new RedisStore(client, prefix)
  await store.connect()
  return store as Store
}

/** A plain client for looking at what the store wrote. */
async function rawClient(redis: RedisServer): Promise<Redis> {
  const raw = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 })
  await raw.connect()
  return raw
}

storeContract('RedisStore', async () => {
  const store = await connectStore(server)
  return { store, cleanup: () => store.close() }
})

const T0 = 1_700_000_000_000

/** Every value Redis holds, whatever the key's type. */
async function everyValue(raw: Redis, keys: string[]): Promise<string[]> {
  const values: string[] = []
  for (const key of keys) {
    const type = await raw.type(key)
    if (type === 'string') values.push((await raw.get(key)) ?? '')
    else if (type === 'hash') values.push(...Object.entries(await raw.hgetall(key)).flat())
    else if (type === 'zset') values.push(...(await raw.zrange(key, 0, -1, 'WITHSCORES')))
    else assert.fail(`unexpected key type ${type} for ${key}`)
  }
  return values
}

/** The hash tag Redis Cluster hashes: between the first `{` and the next `}`, when not empty. */
function hashTag(key: string): string | null {
  const open = key.indexOf('{')
  if (open < 0) return null
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : null
}

describe('RedisStore: key space', () => {
  test('every key carries the prefix, and each account key its {account} hash tag', async () => {
    const prefix = 'keyspace-test:'
    const store = await connectStore(server, prefix)
    const raw = await rawClient(server)
    try {
      const accounts = ['crm-prod', 'user@example.com', 'a:b.c_d-1']
      for (const account of accounts) {
        await store.writeGrant(account, grantWrite(), T0)
        await store.commitRefresh(account, 1, refreshCommit(), T0 + 1)
        await store.recordFailure(account, 2, {
          lastError: '{"code":"X","message":"x","at":"2024-01-01T00:00:00.000Z"}',
          retryAt: T0 + 9,
          failures: 1,
        })
        await store.setRefreshDue(account, T0 + 3)
        assert.equal(await store.acquireLock(account, 'owner', 60_000), true)
      }
      await store.markReauthRequired(accounts[0]!, null, '{"code":"X","message":"x","at":"2024-01-01T00:00:00.000Z"}', T0)
      await store.putConnectState('state-abc', 'sealed-state', 600)

      const keys = (await raw.keys('*')).filter((k) => !/^t\d+:/.test(k)).sort()
      assert.ok(keys.length > 0)
      for (const key of keys) assert.ok(key.startsWith(prefix), `${key} starts with the prefix ${prefix}`)

      const shared = new Set([`${prefix}accounts`])
      for (const key of keys) {
        if (shared.has(key)) continue
        if (/^keyspace-test:due:\{\d+\}$/.test(key)) continue
        const tag = hashTag(key)
        assert.ok(tag !== null, `${key} has a hash tag`)
        assert.ok([...accounts, 'state-abc'].includes(tag), `${key}: its hash tag is an account or a link state`)
        assert.equal(key, `${prefix}{${tag}}:${key.slice(`${prefix}{${tag}}:`.length)}`, `${key}: prefix then tag`)
      }
      for (const account of accounts) {
        const own = keys.filter((k) => hashTag(k) === account)
        assert.deepEqual(own.sort(), [`${prefix}{${account}}:grant`, `${prefix}{${account}}:lock`].sort())
      }
      assert.ok(keys.includes(`${prefix}{state-abc}:connect`))
      assert.deepEqual(await raw.zrange(`${prefix}accounts`, 0, -1), [...accounts].sort())
    } finally {
      raw.disconnect()
      await store.close()
    }
  })

  test('two prefixes on one Redis do not see each other', async () => {
    const one = await connectStore(server, 'tenant-one:')
    const two = await connectStore(server, 'tenant-two:')
    try {
      await one.writeGrant('shared-id', grantWrite({ accessToken: 'one' }), T0)
      assert.equal(await two.getGrant('shared-id'), null)
      assert.deepEqual(await two.listAccounts(null, 10), [])
      assert.equal(await two.writeGrant('shared-id', grantWrite({ provider: 'github' }), T0), 'created')
      assert.equal((await one.getGrant('shared-id'))?.provider, 'acme')
    } finally {
      await one.close()
      await two.close()
    }
  })
})

describe('RedisStore: at rest', () => {
  test('Redis never holds a token in plaintext', async () => {
    const prefix = 'at-rest:'
    const store = await connectStore(server, prefix)
    const raw = await rawClient(server)
    const ring = KeyRing.ephemeral()
    const account = 'crm-prod'
    const secrets = {
      at1: `ya29.access-${randomBytes(12).toString('hex')}`,
      rt1: `1//refresh-${randomBytes(12).toString('hex')}`,
      at2: `ya29.rotated-access-${randomBytes(12).toString('hex')}`,
      rt2: `1//rotated-refresh-${randomBytes(12).toString('hex')}`,
      verifier: `pkce-verifier-${randomBytes(24).toString('base64url')}`,
    }
    try {
      const sealed = {
        at1: ring.seal(account, 'at', secrets.at1),
        rt1: ring.seal(account, 'rt', secrets.rt1),
        at2: ring.seal(account, 'at', secrets.at2),
        rt2: ring.seal(account, 'rt', secrets.rt2),
      }
      await store.writeGrant(account, grantWrite({ accessToken: sealed.at1, refreshToken: sealed.rt1 }), T0)
      await store.writeGrant('other', grantWrite({ accessToken: ring.seal('other', 'at', secrets.at1), refreshToken: null }), T0)
      await store.commitRefresh(account, 1, refreshCommit({ accessToken: sealed.at2, refreshToken: sealed.rt2 }), T0 + 1)
      await store.putConnectState('st', ring.seal('st', 'connect', JSON.stringify({ account, verifier: secrets.verifier })), 600)

      const keys = (await raw.keys(`${prefix}*`)).sort()
      const values = (await everyValue(raw, keys)).join('\n')
      for (const [name, plaintext] of Object.entries(secrets)) {
        for (const form of [plaintext, Buffer.from(plaintext).toString('base64'), Buffer.from(plaintext).toString('base64url')]) {
          assert.ok(!values.includes(form), `${name} (${form.slice(0, 12)}...) must not be stored in the clear`)
        }
      }
      // The check above only means something if the sealed values are really there.
      const grant = await raw.hgetall(`${prefix}{${account}}:grant`)
      assert.equal(grant.at, sealed.at2)
      assert.equal(grant.rt, sealed.rt2)
      assert.equal(ring.open(account, 'at', grant.at!), secrets.at2)
      assert.equal(ring.open(account, 'rt', grant.rt!), secrets.rt2)
    } finally {
      raw.disconnect()
      await store.close()
    }
  })
})

describe('RedisStore: the hot path read', () => {
  test('getServingGrant reads four fields in one HMGET and runs no script: the sealed refresh token stays in Redis', async () => {
    const prefix = 'serving:'
    const store = await connectStore(server, prefix)
    const raw = await rawClient(server)
    const monitor = await raw.monitor()
    const sent: string[][] = []
    const ranInRedis: string[][] = []
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args.some((a) => a.startsWith(prefix))) (source === 'lua' ? ranInRedis : sent).push(args)
    })
    try {
      await store.writeGrant('crm-prod', grantWrite(), T0)
      // MONITOR delivers in execution order: once the write's last command (adding the account to
      // the index) is seen, everything before it, the script's own commands included, has been.
      await waitFor('the write seen by MONITOR', () => (sent.some(([c]) => c?.toLowerCase() === 'zadd') ? true : undefined))
      sent.length = 0
      ranInRedis.length = 0
      const read = await store.getServingGrant('crm-prod')
      assert.equal(read?.accessToken, 'sealed-at-1')
      assert.equal(read?.version, 1)
      assert.ok(!('refreshToken' in (read ?? {})), 'no refresh token in the serving grant')
      await store.getGrant('crm-prod') // a marker: once its HGETALL is seen, the read's commands have been
      await waitFor('the read seen by MONITOR', () => (sent.some(([c]) => c?.toLowerCase() === 'hgetall') ? true : undefined))
      const onGrant = sent.filter((args) => args.includes(`${prefix}{crm-prod}:grant`)).slice(0, -1)
      assert.deepEqual(onGrant, [['hmget', `${prefix}{crm-prod}:grant`, 'sv1', 'at', 'version', 'scope']])
      assert.deepEqual(ranInRedis, [], 'no script ran')
    } finally {
      monitor.disconnect()
      raw.disconnect()
      await store.close()
    }
  })

  test('every write keeps the view equal to the fields it packs', async () => {
    const prefix = 'serving-view:'
    const store = await connectStore(server, prefix)
    const raw = await rawClient(server)
    const key = `${prefix}{crm-prod}:grant`
    const packed = async () => {
      const fields = await raw.hmget(key, ...VIEW_FIELDS)
      return fields.map((v) => (v === null ? '' : `=${v}`)).join('\n')
    }
    try {
      await store.writeGrant('crm-prod', grantWrite(), T0)
      assert.equal(await raw.hget(key, 'sv1'), await packed())
      await store.recordFailure('crm-prod', 1, { lastError: '{"code":"PROVIDER_UNAVAILABLE"}', retryAt: T0 + 5000, failures: 1 })
      assert.match((await raw.hget(key, 'sv1')) ?? '', new RegExp(`\n=${T0 + 5000}\n`))
      assert.equal(await raw.hget(key, 'sv1'), await packed())
      assert.equal(await store.commitRefresh('crm-prod', 1, refreshCommit(), T0 + 10), true)
      assert.equal(await raw.hget(key, 'sv1'), await packed())
      await store.markReauthRequired('crm-prod', null, '{"code":"INVALID_GRANT"}', T0 + 20)
      assert.equal(await raw.hget(key, 'sv1'), await packed())
      assert.equal((await store.getServingGrant('crm-prod'))?.status, 'reauth_required')
      // The provider's free text: a scope (read as its own field) and a token type (last in the view).
      await store.writeGrant('crm-prod', grantWrite({ scope: 'a\nb', tokenType: 'x\ny' }), T0 + 30)
      assert.equal(await raw.hget(key, 'sv1'), await packed())
      const relinked = await store.getServingGrant('crm-prod')
      assert.equal(relinked?.scope, 'a\nb')
      assert.equal(relinked?.tokenType, 'x\ny')
      assert.equal(relinked?.version, 4)
    } finally {
      raw.disconnect()
      await store.close()
    }
  })

  test('a grant whose view is missing or older than its version is read from its fields, which are packed again', async () => {
    const prefix = 'serving-fields:'
    const store = await connectStore(server, prefix)
    const raw = await rawClient(server)
    // Scripts run, by hash or in full (ioredis sends the whole script once Redis lacks it).
    const scripts = async () => {
      const stats = await raw.info('commandstats')
      return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
    }
    try {
      await store.writeGrant('crm-prod', grantWrite(), T0)
      const key = `${prefix}{crm-prod}:grant`
      // Written as an instance that keeps no view would: the fields change, the version moves.
      await raw.hset(key, 'scope', 'a\nb\n\nc', 'token_type', '', 'status', 'reauth_required')
      await raw.hdel(key, 'expires_at', 'retry_at')
      await raw.hincrby(key, 'version', 1)
      const before = await scripts()
      const read = await store.getServingGrant('crm-prod')
      assert.equal(read?.version, 2)
      assert.equal(read?.status, 'reauth_required')
      assert.equal(read?.scope, 'a\nb\n\nc')
      assert.equal(read?.tokenType, '')
      assert.equal(read?.expiresAt, null)
      assert.equal(read?.retryAt, null)
      assert.equal(read?.accessToken, 'sealed-at-1')
      assert.equal(read?.provider, grantWrite().provider)
      assert.equal(await scripts(), before + 1, 'the stale view was packed again by the script')
      assert.deepEqual(await store.getServingGrant('crm-prod'), read)
      assert.equal(await scripts(), before + 1, 'the next read finds the view current')
      // A grant from before views existed: no view at all.
      await raw.hdel(key, 'sv1', 'token_type', 'scope', 'status')
      const bare = await store.getServingGrant('crm-prod')
      assert.equal(bare?.tokenType, 'Bearer')
      assert.equal(bare?.scope, null)
      assert.equal(bare?.status, 'active')
      assert.equal(await scripts(), before + 2)
      assert.ok(await raw.hget(key, 'sv1'))
      assert.equal(await store.getServingGrant('nobody'), null)
      assert.equal(await scripts(), before + 2, 'no grant: no script')
    } finally {
      raw.disconnect()
      await store.close()
    }
  })
})

describe('RedisStore: the reads of one turn', () => {
  test('reach Redis in one write: twenty reads made together are one read event for Redis, turn after turn', async () => {
    const redis = await startRedis()
    const store = await connectStore(redis)
    const raw = await rawClient(redis)
    try {
      const accounts = Array.from({ length: 20 }, (_, i) => `acct-${i}`)
      for (const account of accounts) await store.writeGrant(account, grantWrite(), T0)
      for (const turn of [1, 2, 3]) {
        const before = await readEvents(raw)
        const reads = await Promise.all([...accounts.map((a) => store.getServingGrant(a)), store.getServingGrant('nobody')])
        const after = await readEvents(raw)
        assert.deepEqual(
          reads.map((r) => r?.version ?? null),
          [...accounts.map(() => 1), null],
        )
        // One event for the twenty-one HMGETs, one for the second INFO (21 + 1 without coalescing).
        assert.equal(after - before, 2, `turn ${turn}`)
      }
    } finally {
      raw.disconnect()
      await store.close()
      await redis.dispose()
    }
  })
})

describe('RedisStore: outages', () => {
  let outage: RedisServer
  before(async () => {
    outage = await startRedis()
  })
  after(async () => {
    outage.resume()
    await outage.dispose()
  })

  const isStoreUnavailable = (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError, `got ${String(error)}`)
    assert.equal(error.code, 'STORE_UNAVAILABLE')
    assert.ok((error as { cause?: unknown }).cause, 'the Redis error is kept as the cause')
    return true
  }

  test("an outage writes nothing to stderr behind the logger's back", async () => {
    const client = createRedisClient({ kind: 'standalone', url: outage.url }, 2_000)
    const store = new RedisStore(client, 'quiet:')
    await store.connect()
    let reconnects = 0
    client.on('reconnecting', () => {
      reconnects++
    })
    const written: string[] = []
    const realWrite = process.stderr.write
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk))
      return (realWrite as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest)
    }) as typeof process.stderr.write
    try {
      await outage.stop()
      await assert.rejects(store.ping(), isStoreUnavailable)
      // Each failed reconnect emits 'error' before the next 'reconnecting'.
      await waitFor('two reconnect attempts', () => (reconnects >= 2 ? true : undefined))
      assert.deepEqual(
        written.filter((w) => w.includes('ioredis')),
        [],
      )
    } finally {
      process.stderr.write = realWrite
      await outage.start()
      await store.close()
    }
  })

  test('calls fail with STORE_UNAVAILABLE while Redis is down, and work again once it is back', async () => {
    const store = await connectStore(outage, 'down:')
    try {
      await store.writeGrant('acct', grantWrite(), T0)
      await outage.stop()

      await within('getGrant while Redis is down', assert.rejects(store.getGrant('acct'), isStoreUnavailable))
      await within('writeGrant while Redis is down', assert.rejects(store.writeGrant('acct', grantWrite(), T0), isStoreUnavailable))
      await within(
        'commitRefresh while Redis is down',
        assert.rejects(store.commitRefresh('acct', 1, refreshCommit(), T0), isStoreUnavailable),
      )
      await within('acquireLock while Redis is down', assert.rejects(store.acquireLock('acct', 'o', 1000), isStoreUnavailable))
      await within('listAccounts while Redis is down', assert.rejects(store.listAccounts(null, 10), isStoreUnavailable))
      await within('ping while Redis is down', assert.rejects(store.ping(), isStoreUnavailable))

      await outage.start()
      // The same store object reconnects by itself (the restarted Redis kept nothing).
      await waitFor(
        'the store to answer again',
        async () => {
          await store.ping()
          return true
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      )
      assert.equal(await store.getGrant('acct'), null)
      assert.equal(await store.writeGrant('acct', grantWrite(), T0), 'created')
      assert.equal(await store.commitRefresh('acct', 1, refreshCommit(), T0 + 1), true)
      assert.equal((await store.getGrant('acct'))?.version, 2)
    } finally {
      await outage.start()
      await store.close()
    }
  })

  test('change events flow again after Redis comes back', async () => {
    const store = await connectStore(outage, 'resub:')
    const changes = recordChanges(store)
    try {
      await store.writeGrant('acct', grantWrite(), T0)
      await changes.until('acct', 1)
      await outage.stop()
      await outage.start()
      await waitFor(
        'the store to answer again',
        async () => {
          await store.ping()
          return true
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      )
      // The subscriber reconnects on its own schedule: write until an event comes through.
      let version = 0
      await waitFor(
        'a change event after the restart',
        async () => {
          const outcome = await store.writeGrant('acct', grantWrite(), T0)
          version = outcome === 'created' ? 1 : version + 1
          await changes.until('acct', version, 250).catch(() => undefined)
          return changes.seen.length > 1 ? true : undefined
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      )
      assert.deepEqual(changes.seen.at(-1), ['acct', version])
    } finally {
      changes.stop()
      await outage.start()
      await store.close()
    }
  })

  test('a paused Redis makes calls fail with STORE_UNAVAILABLE instead of hanging', async () => {
    const store = await connectStore(outage, 'paused:', 1_000)
    try {
      await store.writeGrant('acct', grantWrite(), T0)
      outage.pause()
      try {
        await within('getGrant on a paused Redis', assert.rejects(store.getGrant('acct'), isStoreUnavailable))
        await within('acquireLock on a paused Redis', assert.rejects(store.acquireLock('acct', 'o', 1000), isStoreUnavailable))
      } finally {
        outage.resume()
      }
      const grant = await waitFor('the store to answer again', () => store.getGrant('acct'), { timeoutMs: 15_000, intervalMs: 50 })
      assert.equal(grant?.version, 1)
    } finally {
      outage.resume()
      await store.close()
    }
  })

  test('a commit that timed out but was applied succeeds when retried (no false reuse)', async () => {
    const store = await connectStore(outage, 'lost-reply:', 1_000)
    try {
      await store.writeGrant('acct', grantWrite(), T0)
      const commit = refreshCommit({ accessToken: 'sealed-at-after-pause', refreshToken: 'sealed-rt-after-pause' })
      outage.pause()
      try {
        // The command reaches the paused server's socket; its reply is what gets lost.
        await within('commitRefresh on a paused Redis', assert.rejects(store.commitRefresh('acct', 1, commit, T0 + 1), isStoreUnavailable))
      } finally {
        outage.resume()
      }
      const applied = await waitFor(
        'the commit sent during the pause to be applied',
        async () => {
          const grant = await store.getGrant('acct')
          return grant?.version === 2 ? grant : undefined
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      )
      assert.equal(applied.accessToken, 'sealed-at-after-pause')
      // The broker retries the commit it could not confirm: that is not a reuse.
      assert.equal(await store.commitRefresh('acct', 1, commit, T0 + 2), true)
      assert.deepEqual(await store.getGrant('acct'), applied)
    } finally {
      outage.resume()
      await store.close()
    }
  })
})
