import { test } from 'node:test'
import { startRedisSentinel } from '../helpers/redis-sentinel.js'
import type { Duplicate } from './load-record.js'
import { loadScenario } from './load-scenario.js'

/** How long after the Sentinels report the new primary the instances may still be committing on the old one. */
const SWITCH_SLACK_MS = 5_000

test('two Sentinel failovers in a row under load (WAIT for a replica on): no wrong token, only 200 and 503, one refresh per expiry but for accounts refreshed on the demoted primary', async (t) => {
  const rs = await startRedisSentinel()
  const load = await loadScenario(t, {
    stopRedis: () => rs.stop(),
    redisEnv: { REDIS_SENTINELS: rs.envSentinels, REDIS_SENTINEL_NAME: rs.name },
  })
  const [a] = [await load.inProcess('a'), await load.inProcess('b'), await load.inProcess('c')]
  await load.start(a!)

  // The documented bound (docs/operations.md, Redis durability): an instance still on the
  // demoted primary between the promotion and its switch refreshes there; another instance,
  // already on the new primary, may refresh that account again. One extra refresh per account.
  const windows: [number, number][] = []
  const failover = async () => {
    const from = Date.now()
    await rs.failover()
    windows.push([from, Date.now() + SWITCH_SLACK_MS])
  }
  const inWindow = (d: Duplicate) => windows.some(([from, to]) => d.orphan.at >= from && d.orphan.at <= to)

  // Sentinel makes the demoted primary a replica of the new one some seconds later: only then can a second failover follow.
  await load.fault(
    'first Sentinel failover, until the demoted primary is a replica in sync',
    async () => {
      await failover()
      await rs.replicaInSync(60_000)
    },
    inWindow,
  )
  await load.fault('second Sentinel failover', failover, inWindow)
})
