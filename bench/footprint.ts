/**
 * Benchmark 4, footprint: Redis bytes for one Google-sized grant (MEMORY USAGE of its hash,
 * and used_memory per account over 10,000 of them, indexes included), and the broker's RSS
 * before and after serving 100,000 distinct accounts (its caches are bounded).
 */
import { Redis } from 'ioredis'
import type { LoadResult } from './support/load.js'
import { brokerEnv, callerHeaders } from './support/env.js'
import { start } from './support/processes.js'
import { PREFIX, seedGrants, type SeedGrant } from './support/seed.js'

const SERVED = Number(process.env.BENCH_FOOTPRINT_ACCOUNTS ?? 100_000)
const GOOGLE_SCOPE =
  'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/drive.readonly'
const google = (i: number): SeedGrant => ({
  accessToken: `ya29.a0${'A'.repeat(210)}${i}`,
  refreshToken: `1//0${'g'.repeat(98)}${i}`,
  expiresAt: Date.now() + 3600_000,
  scope: GOOGLE_SCOPE,
})

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])

export async function footprint(redisUrl: string) {
  const redis = new Redis(redisUrl)
  try {
    const empty = await usedMemory(redis)
    await seedGrants(redisUrl, 10_000, google)
    const perAccount = Math.round(((await usedMemory(redis)) - empty) / 10_000)
    const hashBytes = Number(await redis.memory('USAGE', `${PREFIX}{acct-0}:grant`, 'SAMPLES', 0))
    // The same grant with the setting docker-compose.yml and docs/operations.md recommend.
    await redis.config('SET', 'hash-max-listpack-value', '512')
    await seedGrants(redisUrl, 1, google, 'bench', 'listpack-')
    const listpackHashBytes = Number(await redis.memory('USAGE', `${PREFIX}{listpack-0}:grant`, 'SAMPLES', 0))
    await redis.config('SET', 'hash-max-listpack-value', '64')
    await seedGrants(redisUrl, SERVED, google)

    const broker = await start('servers/broker.ts', brokerEnv(redisUrl, 'http://127.0.0.1:9/token', { LOG_LEVEL: 'warn' }))
    const load = await start('support/load.ts')
    try {
      const run = { url: broker.ready.url as string, path: '/tokens/acct-{n}/access', headers: callerHeaders, connections: 20 }
      await load.ask({ run: { ...run, accounts: 1000, seconds: 3 } })
      const warm = await broker.ask<{ rss: number }>({})
      const served = await load.ask<LoadResult>({ run: { ...run, accounts: SERVED, seconds: 0, amount: SERVED } })
      const after = await broker.ask<{ rss: number }>({})
      const again = await load.ask<LoadResult>({ run: { ...run, accounts: SERVED, seconds: 0, amount: SERVED } })
      const end = await broker.ask<{ rss: number }>({})
      const mb = (b: number) => Math.round(b / 2 ** 20)
      const result = {
        redisHashBytes: hashBytes,
        redisHashBytesListpack512: listpackHashBytes,
        redisBytesPerAccount: perAccount,
        brokerRssMb: { afterWarmUp: mb(warm.rss), after100kDistinct: mb(after.rss), afterSecond100k: mb(end.rss) },
        served: served.requests + again.requests,
        non2xx: served.non2xx + again.non2xx,
      }
      process.stdout.write(`  ${JSON.stringify(result)}\n`)
      return result
    } finally {
      await Promise.all([load.stop(), broker.stop()])
    }
  } finally {
    await redis.quit()
  }
}
