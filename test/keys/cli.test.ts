import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { resealAll } from '../../src/broker/key-rotation.js'
import { brokerFor } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { rotatingTokens, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { cli } from '../cli/run-cli.js'
import { keyRingOf } from '../helpers/app.js'
import { K1, K2 } from './keys.js'

let redis: RedisServer
let stub: StubProvider
let app: FastifyInstance
const PREFIX = 'keys-cli:'
const accounts = Array.from({ length: 10 }, (_, i) => `acct-${i}`)

before(async () => {
  redis = await startRedis()
  stub = await startStubProvider()
  stub.handle('/token', rotatingTokens())
  app = (await brokerFor(stub, { redis, env: { ENCRYPTION_KEYS: K1, REDIS_KEY_PREFIX: PREFIX } })).app
  for (const account of accounts)
    await importGrant(app, account, { access_token: `at-${account}`, refresh_token: `rt-${account}`, expires_in: 3600 })
})
after(async () => {
  await app.close()
  await stub.close()
  await redis.dispose()
})

const env = (keys = `${K2},${K1}`) => ({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: PREFIX, ENCRYPTION_KEYS: keys })

test('keys status counts what each key seals; keys reseal resumes after --from, then finishes; k1 is then free', async () => {
  assert.deepEqual(await cli(['keys', 'status'], env()), {
    code: 0,
    stderr: '',
    stdout: 'k2  0 values  (current: seals new values)\nk1  20 values  (run keys reseal)\n',
  })

  const resumed = await cli(['keys', 'reseal', '--from', 'acct-3', '--batch', '4'], env())
  assert.equal(resumed.code, 0, resumed.stderr)
  const lines = resumed.stdout.trim().split('\n')
  assert.match(lines[0]!, /^4 accounts: 8 values resealed, 0 already current, 0 unreadable, 0 skipped, \d+ accounts\/s, cursor acct-7$/)
  assert.match(lines.at(-2)!, /^6 accounts: 12 values resealed, 0 already current, 0 unreadable, 0 skipped, \d+ accounts\/s$/)
  assert.equal(lines.at(-1), 'done: every value is sealed with k2; check with token-broker keys status')
  assert.equal(
    (await cli(['keys', 'status'], env())).stdout,
    'k2  12 values  (current: seals new values)\nk1  8 values  (run keys reseal)\n',
  )

  const rest = await cli(['keys', 'reseal'], env())
  assert.equal(rest.code, 0, rest.stderr)
  assert.match(rest.stdout, /^10 accounts: 8 values resealed, 12 already current, 0 unreadable, 0 skipped, \d+ accounts\/s\n/)
  assert.deepEqual(await cli(['keys', 'status'], env()), {
    code: 0,
    stderr: '',
    stdout: 'k2  20 values  (current: seals new values)\nk1  0 values  (seals nothing: can be removed)\n',
  })
  // Without k1 in the ring nothing is left that it alone could open.
  assert.deepEqual(await cli(['keys', 'status'], env(K2)), { code: 0, stderr: '', stdout: 'k2  20 values  (current: seals new values)\n' })
})

test('keys status names stored key ids that ENCRYPTION_KEYS lacks, exit 1', async () => {
  const k3 = `k3:${Buffer.alloc(32, 3).toString('base64')}`
  const run = await cli(['keys', 'status'], env(k3))
  assert.equal(run.code, 1)
  assert.match(
    run.stdout,
    /^k3 {2}0 values {2}\(current: seals new values\)\nk\d {2}\d+ values {2}\(not in ENCRYPTION_KEYS: these cannot be opened\)\n/,
  )
})

test('usage and configuration errors of keys status and reseal', async () => {
  const cases: [string[], Record<string, string>, number, string][] = [
    [
      ['keys', 'status', '--from', 'x'],
      env(),
      2,
      'token-broker: keys: --from does not apply to keys status (see token-broker keys --help)',
    ],
    [
      ['keys', 'generate', '--batch', '3'],
      env(),
      2,
      'token-broker: keys: --batch does not apply to keys generate (see token-broker keys --help)',
    ],
    [
      ['keys', 'reseal', '--batch', '0'],
      env(),
      2,
      'token-broker: keys: --batch must be a whole number, 1 to 10000 (see token-broker keys --help)',
    ],
    [
      ['keys', 'reseal'],
      {},
      3,
      'token-broker: configuration error: REDIS_URL is required (or REDIS_SENTINELS or REDIS_CLUSTER_NODES): the grants to look at are in Redis',
    ],
    [
      ['keys', 'status'],
      { REDIS_URL: redis.url },
      3,
      'token-broker: configuration error: ENCRYPTION_KEYS is required: the keys that seal the stored grants, the current one first',
    ],
  ]
  const runs = await Promise.all(cases.map(([args, e]) => cli(args, e)))
  for (const [i, [args, , code, line]] of cases.entries())
    assert.deepEqual(runs[i], { code, stdout: '', stderr: `${line}\n` }, args.join(' '))
})

test('an interrupted reseal is kept in Redis: keys status shows it, keys reseal resumes it without being told where, and clears it', async (t) => {
  const prefix = 'keys-resume:'
  const { app: old } = await brokerFor(stub, { redis, env: { ENCRYPTION_KEYS: K1, REDIS_KEY_PREFIX: prefix } })
  const { app: rotated } = await brokerFor(stub, { redis, env: { ENCRYPTION_KEYS: `${K2},${K1}`, REDIS_KEY_PREFIX: prefix } })
  t.after(() => Promise.all([old.close(), rotated.close()]))
  for (const account of accounts)
    await importGrant(old, account, { access_token: `at-${account}`, refresh_token: `rt-${account}`, expires_in: 3600 })
  const store = rotated.storage.grants
  const keyRing = keyRingOf(rotated)
  const first = await resealAll(store, keyRing, { batch: 4, stop: () => true, clock: () => Date.UTC(2026, 10, 27, 12) })
  assert.equal(first.cursor, 'acct-3')
  const resumeEnv = { ...env(), REDIS_KEY_PREFIX: prefix }

  assert.deepEqual(await cli(['keys', 'status'], resumeEnv), {
    code: 0,
    stderr: '',
    stdout:
      'k2  8 values  (current: seals new values)\nk1  12 values  (run keys reseal)\n' +
      'reseal unfinished: sealing with k2, 4 accounts done up to acct-3, last batch 2026-11-27T12:00:00.000Z (keys reseal resumes it)\n',
  })
  const resumed = await cli(['keys', 'reseal', '--batch', '4'], resumeEnv)
  assert.equal(resumed.code, 0, resumed.stderr)
  const lines = resumed.stdout.trim().split('\n')
  assert.equal(lines[0], 'resuming the reseal started 2026-11-27T12:00:00.000Z: 4 accounts done, continuing after acct-3')
  assert.match(lines.at(-2)!, /^6 accounts: 12 values resealed, 0 already current, 0 unreadable, 0 skipped, \d+ accounts\/s$/)
  assert.equal(lines.at(-1), 'done: every value is sealed with k2; check with token-broker keys status')
  assert.deepEqual(await cli(['keys', 'status'], resumeEnv), {
    code: 0,
    stderr: '',
    stdout: 'k2  20 values  (current: seals new values)\nk1  0 values  (seals nothing: can be removed)\n',
  })
})
