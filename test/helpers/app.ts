import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { KeyRing } from '../../src/crypto/key-ring.js'
import { writeProvidersFile, type Providers } from './providers-file.js'

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789'
export const TEST_KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`
export const ALL_SCOPES = ['tokens:read', 'tokens:revoke', 'accounts:read', 'accounts:write']

/**
 * A config from a test environment: HS256 callers, no providers file unless given. Load
 * shedding on event-loop delay is off: many apps share one test process on a busy machine,
 * where a module import or key generation blocks the loop for a second; the shedding
 * test turns it on explicitly.
 */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({ AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...env })
}

/** Captures every log line the app writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    done()
  }
  get text(): string {
    return this.lines.join('\n')
  }
}

/** Where a test app keeps its data: a redis-server (anything with a url), a Redis Cluster or Sentinels. */
export type RedisTarget = { url: string } | { clusterNodes: string } | { sentinels: string }

export interface AppOptions {
  /** Written to a providers file for PROVIDERS_FILE (builders in providers-file.ts). */
  providers?: Providers
  /**
   * The store's Redis; the memory store when absent. Each app gets a key prefix of its own,
   * unless env sets REDIS_KEY_PREFIX (apps that share a key space).
   */
  redis?: RedisTarget
  /** Environment for loadConfig, over testConfig's defaults. */
  env?: Record<string, string | undefined>
  deps?: AppDeps
  /** Runs before the app is ready: Fastify takes hooks only until then. */
  setup?: (app: FastifyInstance) => void
  /** Closes the app when this test (or suite) ends. */
  t?: { after(fn: () => unknown): void }
}

export interface TestApp {
  app: FastifyInstance
  logs: LogCapture
  config: Config
}

function redisEnv(redis: RedisTarget): Record<string, string> {
  const where: Record<string, string> =
    'url' in redis
      ? { REDIS_URL: redis.url }
      : 'clusterNodes' in redis
        ? { REDIS_CLUSTER_NODES: redis.clusterNodes }
        : { REDIS_SENTINELS: redis.sentinels, REDIS_SENTINEL_NAME: 'mymaster' }
  return { ...where, ENCRYPTION_KEYS: TEST_KEYS, REDIS_KEY_PREFIX: `t${randomUUID()}:` }
}

const keyRings = new WeakMap<FastifyInstance, KeyRing>()

/** The key ring an app built by testApp seals with (tests that write sealed values themselves need it). */
export function keyRingOf(app: FastifyInstance): KeyRing {
  const keyRing = keyRings.get(app)
  if (!keyRing) throw new Error('not an app built by testApp')
  return keyRing
}

/**
 * The one way tests build a broker app: ready, its log lines captured, and with Redis
 * its store connected. It never listens (see `listen`).
 */
export async function testApp(o: AppOptions = {}): Promise<TestApp> {
  const config = testConfig({
    ...(o.providers ? { PROVIDERS_FILE: writeProvidersFile(o.providers) } : {}),
    ...(o.redis ? redisEnv(o.redis) : {}),
    ...o.env,
  })
  const logs = new LogCapture()
  const keyRing = o.deps?.keyRing ?? (config.encryptionKeys ? new KeyRing(config.encryptionKeys) : KeyRing.ephemeral())
  const app = await buildApp(config, { logStream: logs, ...o.deps, keyRing })
  keyRings.set(app, keyRing)
  o.t?.after(() => app.close())
  o.setup?.(app)
  await app.ready()
  if (o.redis) {
    const error = await app.storage.connect()
    assert.equal(error, null, `the store connects: ${error?.message}`)
  }
  return { app, logs, config }
}

/** Listens on loopback (`port` 0: any free one) and returns the base URL. */
export async function listen(app: FastifyInstance, port = 0): Promise<string> {
  await app.listen({ port, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

export interface TokenOptions {
  sub?: string | null
  scopes?: string[]
  accounts?: string[]
  ttlSeconds?: number
  secret?: string
  claims?: Record<string, unknown>
}

/** A caller JWT signed with the test secret (HS256) unless told otherwise. */
export function callerToken(o: TokenOptions = {}): string {
  const sign = createSigner({ key: o.secret ?? TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: (o.ttlSeconds ?? 600) * 1000 })
  const payload: Record<string, unknown> = { scope: (o.scopes ?? ALL_SCOPES).join(' '), ...o.claims }
  if (o.sub !== null) payload.sub = o.sub ?? 'test-caller'
  if (o.accounts) payload.accounts = o.accounts
  return sign(payload)
}

export const bearer = (o: TokenOptions = {}) => ({ authorization: `Bearer ${callerToken(o)}` })
