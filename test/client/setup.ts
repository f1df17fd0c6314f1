import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { LogCapture, TEST_KEYS, bearer, testConfig } from '../helpers/app.js'
import { writeProvidersFile } from '../helpers/providers-file.js'
import { json, startStubProvider, type StubHandler, type StubProvider } from '../helpers/stub-provider.js'
import { RedisFixture } from '../http/support.js'

/** One request the broker received, and what it answered. */
export interface BrokerHit { method: string; url: string; at: number; status?: number; retryAfter?: number }

export interface Harness {
  url: string
  app: FastifyInstance
  stub: StubProvider
  hits: BrokerHit[]
  /** Requests to the broker whose method and path (query ignored) match. */
  count(method: string, path: string): number
  /** Imports a grant for provider `stub` through the API. */
  importGrant(account: string, body: Record<string, unknown>): Promise<void>
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
  const server = await redis.get()
  const providersFile = writeProvidersFile({
    stub: { template: 'oauth2', authorization_url: `${stub.url}/authorize`, token_url: `${stub.url}/token`, client_id: 'c', client_secret: 's' },
  })
  const config = testConfig({
    PROVIDERS_FILE: providersFile, REDIS_URL: server.url, ENCRYPTION_KEYS: TEST_KEYS, REDIS_KEY_PREFIX: `c${randomUUID()}:`,
    PROACTIVE_REFRESH: 'false', ...env,
  })
  const app = await buildApp(config, { logStream: new LogCapture() })
  t.after(() => app.close())
  const hits: BrokerHit[] = []
  app.server.on('request', (req, res) => {
    const hit: BrokerHit = { method: req.method ?? '', url: req.url ?? '', at: Date.now() }
    hits.push(hit)
    res.on('finish', () => { hit.status = res.statusCode })
    answers.set(req, hit)
  })
  const answers = new WeakMap<object, BrokerHit>()
  app.addHook('onSend', async (request, reply) => {
    const retryAfter = reply.getHeader('retry-after')
    const hit = answers.get(request.raw)
    if (hit && retryAfter !== undefined) hit.retryAfter = Number(retryAfter)
  })
  await app.storage.connect()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return {
    url, app, stub, hits,
    count: (method, path) => hits.filter((h) => h.method === method && h.url.split('?')[0] === path).length,
    async importGrant(account, body) {
      const res = await app.inject({ method: 'PUT', url: `/accounts/${account}`, headers: bearer(), payload: { provider: 'stub', ...body } })
      if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`import failed: ${res.statusCode} ${res.body}`)
    },
  }
}
