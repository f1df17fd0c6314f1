import { test } from 'node:test'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { loadScenario } from './load-scenario.js'

test('two Cluster master kills in a row under load (replicas, WAIT on): every expiry refreshed once, no wrong token, only 200 and 503', async (t) => {
  const cluster = await startRedisCluster({ masters: 3, replicas: 1 })
  const accounts = [...(await cluster.idsOnEveryNode('load', 10)).values()].flat()
  const load = await loadScenario(t, {
    stopRedis: () => cluster.stop(),
    redisEnv: { REDIS_CLUSTER_NODES: cluster.envValue, REDIS_WAIT_REPLICAS_MS: '500' },
    accounts,
  })
  const [a] = [await load.inProcess('a'), await load.inProcess('b'), await load.inProcess('c')]
  await load.start(a!)

  const victim = `{${accounts[0]}}`
  // The killed master, started again, comes back as a replica of the one that took its slots: the next kill promotes it.
  await load.fault('a master SIGKILLed, its replica promoted, the old master back as a replica', async () => {
    const { killed } = await cluster.killMasterOf(victim)
    await cluster.server(killed).start()
    await cluster.healthy()
  })
  await load.fault('the promoted master SIGKILLed', async () => {
    await cluster.killMasterOf(victim)
  })
})
