import { existsSync } from 'node:fs'
import { Type, type Static, type StringOptions, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from './config-error.js'
import {
  describeInvalid,
  encryptionKeys,
  hostPorts,
  httpUrls,
  publicKeyConfig,
  rateLimits,
  webhookTargets,
  type HostPort,
  type PublicKeyAuth,
} from './config-values.js'
import type { KeyRingSpec } from './crypto/key-ring.js'
import { loadProviders, type ProviderConfig, type SkippedProvider } from './providers/providers-file.js'
import { isHttpsOrLoopback } from './url-policy.js'

export { ConfigError }

const Str = (opts: StringOptions = {}) => Type.String({ minLength: 1, maxLength: 4096, ...opts })
const Int = (minimum: number, maximum: number, defaultValue: number) => Type.Integer({ minimum, maximum, default: defaultValue })
const Bool = (defaultValue: boolean) => Type.Boolean({ default: defaultValue })
const HOST_PORT_LIST = '^[^\\s,:]+:\\d{1,5}(,[^\\s,:]+:\\d{1,5})*$'

/** The environment, as docs/api.md's configuration table (plus a few documented extensions). */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(Str()),
  PORT: Int(0, 65535, 8080),
  HOST: Str({ default: '0.0.0.0' }),
  PUBLIC_URL: Type.Optional(Str({ pattern: '^https?://[^\\s]+$' })),
  REDIS_URL: Type.Optional(Str({ pattern: '^rediss?://[^\\s]+$' })),
  REDIS_CLUSTER_NODES: Type.Optional(Str({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINELS: Type.Optional(Str({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINEL_NAME: Type.Optional(Str({ maxLength: 256 })),
  REDIS_KEY_PREFIX: Type.String({ maxLength: 64, pattern: '^[^\\s{}]*$', default: 'tb:' }),
  REDIS_COMMAND_TIMEOUT_MS: Int(50, 60_000, 1000),
  /** Default: 500 ms (at most half the command timeout) with Sentinel, 0 (off) otherwise. */
  REDIS_WAIT_REPLICAS_MS: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  ENCRYPTION_KEYS: Type.Optional(Str({ maxLength: 16_384 })),
  AUTH_JWT_SECRET: Type.Optional(Str()),
  AUTH_JWT_PUBLIC_KEY: Type.Optional(Str({ maxLength: 16_384 })),
  AUTH_JWKS_URL: Type.Optional(Str({ pattern: '^https?://[^\\s]+$' })),
  AUTH_JWT_ISSUER: Type.Optional(Str()),
  AUTH_JWT_AUDIENCE: Type.Optional(Str()),
  PROVIDERS_FILE: Type.Optional(Str()),
  REFRESH_SKEW_SECONDS: Int(0, 86_400, 300),
  REFRESH_LOCK_TTL_MS: Int(1000, 600_000, 30_000),
  PROVIDER_TIMEOUT_MS: Int(100, 120_000, 10_000),
  PROVIDER_CONCURRENCY: Int(1, 1000, 32),
  REFRESH_BACKOFF_MAX_SECONDS: Int(1, 86_400, 300),
  RETURN_TO_ALLOWLIST: Type.Optional(Str({ maxLength: 16_384 })),
  PROACTIVE_REFRESH: Bool(true),
  ACCESS_CACHE_MS: Int(0, 60_000, 2000),
  ACCESS_CACHE_SIZE: Int(1, 10_000_000, 10_000),
  CALLER_CACHE_SIZE: Int(1, 10_000_000, 10_000),
  RATE_LIMIT_PER_MINUTE: Str({ maxLength: 1024, default: 'tokens:read=0,*=600' }),
  WEBHOOK_URLS: Type.Optional(Str({ maxLength: 16_384 })),
  WEBHOOK_SECRET: Type.Optional(Str({ minLength: 16 })),
  AUDIT_ACCESS: Bool(false),
  AUDIT_MAX_ENTRIES: Int(1000, 10_000_000, 100_000),
  REQUEST_TIMEOUT_MS: Int(1000, 600_000, 30_000),
  HEADERS_TIMEOUT_MS: Int(1000, 600_000, 15_000),
  KEEP_ALIVE_TIMEOUT_MS: Int(1000, 600_000, 72_000),
  CONNECTION_TIMEOUT_MS: Int(1000, 3_600_000, 120_000),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Int(0, 60_000, 1000),
  OVERLOAD_MAX_HEAP_MB: Int(0, 1_048_576, 0),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
})
export type Env = Static<typeof EnvSchema>

export type StoreConfig =
  | { kind: 'memory' }
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: HostPort[] }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string }
export type { HostPort } from './config-values.js'

export type CallerAuthConfig = { kind: 'secret'; secret: string } | PublicKeyAuth | { kind: 'jwks'; url: string }

export interface Config {
  production: boolean
  port: number
  host: string
  publicUrl: string
  store: StoreConfig
  keyPrefix: string
  storeCommandTimeoutMs: number
  /** After committing a rotated refresh token, wait up to this long for one replica's acknowledgement (WAIT 1); 0 = off. */
  storeWaitReplicasMs: number
  /** null with the embedded store and no ENCRYPTION_KEYS: the app generates a per-process key. */
  encryptionKeys: KeyRingSpec | null
  callerAuth: CallerAuthConfig
  issuer?: string
  audience?: string
  providers: ProviderConfig[]
  /** The providers file read, or null when there is none (no provider can be linked: a warning at start). */
  providersFile: string | null
  /** Providers of the file left out because none of their variables is set (a warning at start each). */
  skippedProviders: SkippedProvider[]
  refreshSkewSeconds: number
  refreshLockTtlMs: number
  providerTimeoutMs: number
  /** Concurrent refresh calls per token endpoint, per instance; more wait in a bounded queue. */
  providerConcurrency: number
  /** Ceiling of the shared backoff after failed refreshes (doubling from 1 s). */
  refreshBackoffMaxSeconds: number
  returnToAllowlist: string[]
  proactiveRefresh: boolean
  /** The near cache of opened grants: how long an entry answers without a store read (0 = off), and its size. */
  accessCache: { ttlMs: number; maxEntries: number }
  /** Verified callers kept, by Authorization header. */
  callerCacheSize: number
  /** Requests per minute per caller, by route scope; `*` for the rest; 0 = unlimited. */
  rateLimits: Record<string, number>
  /** Where account.* webhooks are POSTed; empty = no webhooks. */
  webhookUrls: string[]
  /** HMAC-SHA256 key of the webhook signature for receivers without their own; set when one has none. */
  webhookSecret: string | null
  /** URL → that receiver's own signing secret (`url|secret` entries of WEBHOOK_URLS). */
  webhookSecrets: Record<string, string>
  /** Also audit every access token handed out (token.issued); it is always counted in metrics. */
  auditAccess: boolean
  /** The audit stream is trimmed to about this many entries (MAXLEN ~). */
  auditMaxEntries: number
  logLevel: Env['LOG_LEVEL']
  /** Node's HTTP server limits (ms): the whole request, its headers, an idle keep-alive socket, any idle socket. */
  server: { requestTimeoutMs: number; headersTimeoutMs: number; keepAliveTimeoutMs: number; connectionTimeoutMs: number }
  /** Load shedding (503 OVERLOADED): mean event-loop delay and heap limits; 0 = that check is off. */
  overload: { maxEventLoopDelayMs: number; maxHeapMb: number }
  /** Settings that are accepted but weak; server.ts logs each at start. */
  warnings: string[]
}

/** Validates the environment; throws ConfigError naming the first bad variable. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  // Value.Convert reads '80.5' as 80 and '1e3' as 1: integers must be plain digits.
  for (const [key, schema] of Object.entries(EnvSchema.properties)) {
    const value = raw[key]
    if ((schema as { type?: string }).type === 'integer' && typeof value === 'string' && !/^-?\d+$/.test(value)) {
      throw new ConfigError(key, describeInvalid(schema as TSchema, value, 'expected an integer'))
    }
  }
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw))
  const error = Value.Errors(EnvSchema, converted).First()
  if (error) {
    const name = error.path.split('/')[1] ?? 'environment'
    const schema = (EnvSchema.properties as Record<string, TSchema>)[name]
    throw new ConfigError(name, name in raw && schema ? describeInvalid(schema, raw[name], error.message) : 'is required')
  }
  return converted as Env
}

/** PUBLIC_URL without a trailing slash, `http://localhost:PORT` by default. */
export const publicUrlOf = (e: Pick<Env, 'PUBLIC_URL' | 'PORT'>) => (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '')

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = readEnv(env)
  const production = e.NODE_ENV === 'production'
  const store = storeConfig(e)
  if (store.kind === 'memory' && production) {
    throw new ConfigError('REDIS_URL', 'is required when NODE_ENV=production (the embedded store keeps nothing)')
  }
  if (store.kind !== 'memory' && !e.ENCRYPTION_KEYS) {
    throw new ConfigError('ENCRYPTION_KEYS', 'is required with Redis (run `npx token-broker keys generate`)')
  }
  const providersFile = e.PROVIDERS_FILE ?? (existsSync('providers.yaml') ? 'providers.yaml' : null)
  const loaded = providersFile ? loadProviders(providersFile, env) : { providers: [], skipped: [] }
  const warnings: string[] = []
  const callerAuth = callerAuthConfig(e)
  if (callerAuth.kind === 'secret' && Buffer.byteLength(callerAuth.secret, 'utf8') < MIN_HS256_SECRET_BYTES) {
    const detail = `is shorter than ${MIN_HS256_SECRET_BYTES} bytes (HS256 needs a key as long as its hash)`
    if (production) throw new ConfigError('AUTH_JWT_SECRET', `${detail}; refused when NODE_ENV=production`)
    warnings.push(`AUTH_JWT_SECRET ${detail}`)
  }
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) throw new ConfigError('HEADERS_TIMEOUT_MS', 'must not exceed REQUEST_TIMEOUT_MS')
  return {
    production,
    port: e.PORT,
    host: e.HOST,
    publicUrl: publicUrlOf(e),
    store,
    keyPrefix: e.REDIS_KEY_PREFIX,
    storeCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    storeWaitReplicasMs: waitReplicasMs(e, store),
    encryptionKeys: e.ENCRYPTION_KEYS ? encryptionKeys(e.ENCRYPTION_KEYS) : null,
    callerAuth,
    issuer: e.AUTH_JWT_ISSUER,
    audience: e.AUTH_JWT_AUDIENCE,
    providers: loaded.providers,
    providersFile,
    skippedProviders: loaded.skipped,
    refreshSkewSeconds: e.REFRESH_SKEW_SECONDS,
    refreshLockTtlMs: e.REFRESH_LOCK_TTL_MS,
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    providerConcurrency: e.PROVIDER_CONCURRENCY,
    refreshBackoffMaxSeconds: e.REFRESH_BACKOFF_MAX_SECONDS,
    returnToAllowlist: httpUrls(e.RETURN_TO_ALLOWLIST, 'RETURN_TO_ALLOWLIST'),
    proactiveRefresh: e.PROACTIVE_REFRESH,
    accessCache: { ttlMs: e.ACCESS_CACHE_MS, maxEntries: e.ACCESS_CACHE_SIZE },
    callerCacheSize: e.CALLER_CACHE_SIZE,
    rateLimits: rateLimits(e.RATE_LIMIT_PER_MINUTE),
    ...webhookConfig(e),
    auditAccess: e.AUDIT_ACCESS,
    auditMaxEntries: e.AUDIT_MAX_ENTRIES,
    logLevel: e.LOG_LEVEL,
    server: {
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
      connectionTimeoutMs: e.CONNECTION_TIMEOUT_MS,
    },
    overload: { maxEventLoopDelayMs: e.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, maxHeapMb: e.OVERLOAD_MAX_HEAP_MB },
    warnings,
  }
}

const MIN_HS256_SECRET_BYTES = 32

/**
 * Sentinel means replicas by construction, so rotated commits wait for one by default; a
 * standalone Redis or a Cluster may have none, and WAIT would then cost its whole timeout on
 * every rotation: there it is off unless set. It stays under the command timeout, or the
 * WAIT itself would time out and fail the commit.
 */
function waitReplicasMs(e: Env, store: StoreConfig): number {
  const timeout = e.REDIS_COMMAND_TIMEOUT_MS
  if (e.REDIS_WAIT_REPLICAS_MS === undefined) return store.kind === 'sentinel' ? Math.min(500, Math.floor(timeout / 2)) : 0
  if (e.REDIS_WAIT_REPLICAS_MS >= timeout) throw new ConfigError('REDIS_WAIT_REPLICAS_MS', 'must be less than REDIS_COMMAND_TIMEOUT_MS')
  return e.REDIS_WAIT_REPLICAS_MS
}

export type StoreSettings = Pick<
  Config,
  'store' | 'keyPrefix' | 'storeCommandTimeoutMs' | 'storeWaitReplicasMs' | 'auditMaxEntries' | 'encryptionKeys'
>

/** The store and the keys only, for the operator commands that work on stored grants. */
export function loadStoreSettings(env: NodeJS.ProcessEnv = process.env): StoreSettings {
  const e = readEnv(env)
  const store = storeConfig(e)
  return {
    store,
    keyPrefix: e.REDIS_KEY_PREFIX,
    storeCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    storeWaitReplicasMs: waitReplicasMs(e, store),
    auditMaxEntries: e.AUDIT_MAX_ENTRIES,
    encryptionKeys: e.ENCRYPTION_KEYS ? encryptionKeys(e.ENCRYPTION_KEYS) : null,
  }
}

function storeConfig(e: Env): StoreConfig {
  const chosen = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'].filter((k) => e[k as keyof Env] !== undefined)
  if (chosen.length > 1) throw new ConfigError(chosen[1]!, `cannot be combined with ${chosen[0]}`)
  if (e.REDIS_URL) return { kind: 'standalone', url: e.REDIS_URL }
  if (e.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: hostPorts(e.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES') }
  if (e.REDIS_SENTINELS) {
    if (!e.REDIS_SENTINEL_NAME) throw new ConfigError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS')
    return { kind: 'sentinel', sentinels: hostPorts(e.REDIS_SENTINELS, 'REDIS_SENTINELS'), name: e.REDIS_SENTINEL_NAME }
  }
  return { kind: 'memory' }
}

function callerAuthConfig(e: Env): CallerAuthConfig {
  const given = (['AUTH_JWT_SECRET', 'AUTH_JWT_PUBLIC_KEY', 'AUTH_JWKS_URL'] as const).filter((k) => e[k] !== undefined)
  if (given.length === 0) {
    throw new ConfigError('AUTH_JWT_SECRET', 'is required (or AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL)')
  }
  if (given.length > 1) throw new ConfigError(given[1]!, `cannot be combined with ${given[0]}`)
  if (e.AUTH_JWT_SECRET) return { kind: 'secret', secret: e.AUTH_JWT_SECRET }
  if (e.AUTH_JWT_PUBLIC_KEY) return publicKeyConfig(e.AUTH_JWT_PUBLIC_KEY.replace(/\\n/g, '\n'))
  // The key set decides who is a caller: fetched over https, except from loopback (development).
  if (!isHttpsOrLoopback(e.AUTH_JWKS_URL!)) throw new ConfigError('AUTH_JWKS_URL', 'must use https (http only on loopback)')
  return { kind: 'jwks', url: e.AUTH_JWKS_URL! }
}

function webhookConfig(e: Env): Pick<Config, 'webhookUrls' | 'webhookSecret' | 'webhookSecrets'> {
  const targets = webhookTargets(e.WEBHOOK_URLS)
  if (targets.needsSharedSecret && targets.urls.length > 0 && !e.WEBHOOK_SECRET) {
    throw new ConfigError('WEBHOOK_SECRET', 'is required with WEBHOOK_URLS (by entries without a |secret of their own)')
  }
  return { webhookUrls: targets.urls, webhookSecret: e.WEBHOOK_SECRET ?? null, webhookSecrets: targets.secrets }
}
