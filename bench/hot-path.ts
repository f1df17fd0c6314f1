/**
 * `npm run bench`: the hot path (GET /tokens/:account/access, a fresh token on Redis)
 * against a bare Fastify route doing the same single Redis read. Loopback only, bounded
 * in time; prints both and their ratio. BENCH_SECONDS and BENCH_CONNECTIONS tune it.
 */
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { connectStore } from '../src/store/index.js'
import { TEST_KEYS, bearer, testApp, testConfig } from '../test/helpers/app.js'
import { writeProvidersFile } from '../test/helpers/providers-file.js'
import { startRedis } from '../test/helpers/redis-server.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20)

async function measure(name: string, url: string, headers: Record<string, string> = {}) {
  await autocannon({ url, headers, connections, duration: 1 }) // warm-up
  const r = await autocannon({ url, headers, connections, duration: seconds })
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  return { name, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99 }
}

const redis = await startRedis()
try {
  const raw = new Redis(redis.url)
  await raw.hset('bare:{acct}:grant', { provider: 'p', at: 'x'.repeat(120), expires_at: String(Date.now() + 3600_000) })
  const bare = Fastify()
  bare.get('/bare/:account', async (request) => {
    const grant = await raw.hgetall(`bare:{${(request.params as { account: string }).account}}:grant`)
    return { account: 'acct', access_token: grant.at, expires_at: grant.expires_at }
  })
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' })

  const providersFile = writeProvidersFile({ p: { template: 'oauth2', authorization_url: 'http://127.0.0.1:9/a', token_url: 'http://127.0.0.1:9/t', client_id: 'c' } })
  const { app } = await testApp(testConfig({ REDIS_URL: redis.url, ENCRYPTION_KEYS: TEST_KEYS, PROVIDERS_FILE: providersFile, LOG_LEVEL: 'warn', PROACTIVE_REFRESH: 'false', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '1000' }))
  await connectStore(app.broker.deps.store)
  await app.inject({ method: 'PUT', url: '/accounts/acct', headers: bearer(), payload: { provider: 'p', access_token: 'x'.repeat(120), refresh_token: 'r', expires_in: 3600 } })
  const brokerUrl = await app.listen({ port: 0, host: '127.0.0.1' })

  const baseline = await measure('bare Fastify + HGETALL', `${bareUrl}/bare/acct`)
  const broker = await measure('GET /tokens/:account/access', `${brokerUrl}/tokens/acct/access`, bearer())
  for (const m of [baseline, broker]) {
    process.stdout.write(`${m.name.padEnd(30)} ${String(m.rps).padStart(7)} req/s   p50 ${m.p50} ms   p99 ${m.p99} ms\n`)
  }
  process.stdout.write(`broker / baseline throughput: ${(broker.rps / baseline.rps).toFixed(2)}  (${connections} connections, ${seconds} s each)\n`)
  await Promise.all([app.close(), bare.close(), raw.quit()])
} finally {
  await redis.stop()
}
