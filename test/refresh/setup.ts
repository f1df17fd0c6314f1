import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { TEST_KEYS, bearer, testApp, testConfig, type TestApp } from '../helpers/app.js'
import { writeProvidersFile } from '../helpers/providers-file.js'
import type { StubProvider } from '../helpers/stub-provider.js'

export interface BrokerOptions {
  redisUrl?: string
  /** REDIS_CLUSTER_NODES (`host:port,...`): a Redis Cluster instead of REDIS_URL. */
  redisClusterNodes?: string
  /** REDIS_SENTINELS (`host:port,...`) with REDIS_SENTINEL_NAME `mymaster` (env may override it). */
  redisSentinels?: string
  env?: Record<string, string>
  provider?: Record<string, unknown>
  /** The broker's clock (token lifetimes, backoff, breaker); real time when absent. */
  clock?: () => number
}

/** A broker app with one provider `stub` pointing at the stub's /token. */
export async function brokerFor(stub: StubProvider, o: BrokerOptions = {}): Promise<TestApp> {
  const providersFile = writeProvidersFile({
    stub: {
      template: 'oauth2',
      authorization_url: `${stub.url}/authorize`,
      token_url: `${stub.url}/token`,
      client_id: 'broker-client',
      client_secret: 'broker-secret',
      ...o.provider,
    },
  })
  const redis: Record<string, string> | null = o.redisUrl ? { REDIS_URL: o.redisUrl }
    : o.redisClusterNodes ? { REDIS_CLUSTER_NODES: o.redisClusterNodes }
    : o.redisSentinels ? { REDIS_SENTINELS: o.redisSentinels, REDIS_SENTINEL_NAME: 'mymaster' } : null
  const env: Record<string, string> = {
    PROVIDERS_FILE: providersFile, PROVIDER_TIMEOUT_MS: '5000',
    ...(redis ? { ...redis, ENCRYPTION_KEYS: TEST_KEYS, REDIS_KEY_PREFIX: `t${randomUUID()}:` } : {}),
    ...o.env,
  }
  const t = await testApp(testConfig(env), o.clock ? { clock: o.clock } : {})
  await t.app.storage.connect()
  return t
}

export async function importGrant(app: FastifyInstance, account: string, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'PUT', url: `/accounts/${account}`, headers: bearer(), payload: { provider: 'stub', ...body } })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`import failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export const getAccess = (app: FastifyInstance, account: string, query = '') =>
  app.inject({ method: 'GET', url: `/tokens/${account}/access${query}`, headers: bearer() })
