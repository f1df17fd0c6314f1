import { test } from 'node:test'
import { startRedis } from '../helpers/redis-server.js'
import { loadScenario } from './load-scenario.js'

test('Redis restarted under load (AOF, fsync every second), gracefully and after a SIGKILL: every expiry refreshed once, no wrong token, only 200 and 503', async (t) => {
  const redis = await startRedis({ appendonly: true })
  const load = await loadScenario(t, { stopRedis: () => redis.dispose(), redisEnv: { REDIS_URL: redis.url } })
  const [a] = [await load.inProcess('a'), await load.inProcess('b'), await load.inProcess('c')]
  await load.start(a!)

  await load.fault('Redis restart (SIGTERM)', async () => {
    await redis.stop()
    await load.felt()
    await redis.start()
  })
  // Redis writes the AOF to the kernel before it replies: a killed process loses no acknowledged commit.
  await load.fault('Redis restart after SIGKILL', async () => {
    await redis.kill()
    await load.felt()
    await redis.start()
  })
})
