/** The baseline: a bare Fastify route doing one ioredis GET and a JSON.parse (BENCH_REDIS_URL). */
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { serve, usage } from '../support/processes.js'

const redis = new Redis(process.env.BENCH_REDIS_URL!)
const app = Fastify()
app.get<{ Params: { account: string } }>('/bare/:account', async (request, reply) => {
  const raw = await redis.get(`bare:${request.params.account}`)
  if (raw === null) return reply.code(404).send({ statusCode: 404 })
  return JSON.parse(raw) as unknown
})
const url = await app.listen({ port: 0, host: '127.0.0.1' })
serve({ url }, () => usage())
process.on('SIGTERM', () => {
  void Promise.all([app.close(), redis.quit()]).then(() => process.exit(0))
})
