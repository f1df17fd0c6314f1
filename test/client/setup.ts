import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { listen } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import type { RedisFixture } from '../helpers/redis-fixture.js'
import { json, startStubProvider, type StubHandler, type StubProvider } from '../helpers/stub-provider.js'

/** One request the broker received, and what it answered. */
export interface BrokerHit {
  method: string
  url: string
  at: number
  status?: number
  retryAfter?: number
}

export interface Harness {
  url: string
  app: FastifyInstance
  stub: StubProvider
  hits: BrokerHit[]
  /** Requests to the broker whose method and path (query ignored) match. */
  count(method: string, path: string): number
}

/**
 * The provider: a token endpoint handing out `at-1`, `at-2`, ... and an API (`/api/echo`)
 * that accepts only the newest of them, answering 401 to any other, and echoes what it got.
 */
export function providerApi(stub: StubProvider, expiresIn = 3600): { tokenHandler: StubHandler } {
  let issued = 0
  stub.handle('/api/echo', (req, res) => {
    const ok = issued > 0 && req.headers.authorization === `Bearer at-${issued}`
    json(res, ok ? 200 : 401, { authorization: req.headers.authorization ?? null, body: req.body })
  })
  const tokenHandler: StubHandler = (_req, res) => {
    issued++
    json(res, 200, { access_token: `at-${issued}`, refresh_token: `rt-${issued}`, token_type: 'bearer', expires_in: expiresIn })
  }
  stub.handle('/token', tokenHandler)
  return { tokenHandler }
}

/**
 * A real broker on a loopback listener, on a real Redis (one redis-server per test file,
 * a fresh key prefix per broker), with provider `stub`. Every request it receives is
 * recorded with its answer's status and Retry-After.
 */
export async function startBroker(t: TestContext, redis: RedisFixture, env: Record<string, string> = {}): Promise<Harness> {
  const stub = await startStubProvider()
  t.after(() => stub.close())
  const hits: BrokerHit[] = []
  const answers = new WeakMap<object, BrokerHit>()
  const record = (app: FastifyInstance) => {
    app.server.on('request', (req, res) => {
      const hit: BrokerHit = { method: req.method ?? '', url: req.url ?? '', at: Date.now() }
      hits.push(hit)
      res.on('finish', () => {
        hit.status = res.statusCode
      })
      answers.set(req, hit)
    })
    app.addHook('onSend', async (request, reply) => {
      const retryAfter = reply.getHeader('retry-after')
      const hit = answers.get(request.raw)
      if (hit && retryAfter !== undefined) hit.retryAfter = Number(retryAfter)
    })
  }
  const { app } = await brokerFor(stub, { redis: await redis.get(), env: { PROACTIVE_REFRESH: 'false', ...env }, setup: record, t })
  const url = await listen(app)
  return {
    url,
    app,
    stub,
    hits,
    count: (method, path) => hits.filter((h) => h.method === method && h.url.split('?')[0] === path).length,
  }
}
