import { Writable } from 'node:stream'
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { KeyRing } from '../../src/crypto/key-ring.js'

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789'
export const TEST_KEYS = 'k1:' + Buffer.alloc(32, 7).toString('base64')
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

export interface TestApp {
  app: FastifyInstance
  logs: LogCapture
}

const keyRings = new WeakMap<FastifyInstance, KeyRing>()

/** The key ring an app built by testApp seals with (tests that write sealed values themselves need it). */
export function keyRingOf(app: FastifyInstance): KeyRing {
  const keyRing = keyRings.get(app)
  if (!keyRing) throw new Error('not an app built by testApp')
  return keyRing
}

export async function testApp(config: Config = testConfig(), deps: AppDeps = {}): Promise<TestApp> {
  const logs = new LogCapture()
  const keyRing = deps.keyRing ?? (config.encryptionKeys ? new KeyRing(config.encryptionKeys) : KeyRing.ephemeral())
  const app = await buildApp(config, { logStream: logs, ...deps, keyRing })
  keyRings.set(app, keyRing)
  await app.ready()
  return { app, logs }
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
