import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { KeyRing, parseKeyRingSpec } from '../../src/crypto/key-ring.js'
import { RedisStore } from '../../src/store/redis-store.js'
import type { GrantWrite } from '../../src/store/store.js'
import { ACCESS_FIELD, REFRESH_FIELD } from '../../src/broker/secrets.js'
import { refreshDueAt } from '../../src/broker/refresh/policy.js'

export const PREFIX = 'tb:'
export const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`
const keyRing = new KeyRing(parseKeyRingSpec(ENCRYPTION_KEYS))

export interface SeedGrant {
  accessToken: string
  refreshToken: string
  expiresAt: number
  /** Queue it for the scheduler as an import would, with this REFRESH_SKEW_SECONDS (in ms); not queued when absent. */
  queueWithSkewMs?: number
  scope?: string
  meta?: string | null
}

/**
 * Writes grants straight through the store (the broker's own write path, Lua included), many
 * at a time: seeding 100,000 accounts over HTTP would take longer than the benchmark.
 */
export async function seedGrants(
  redisUrl: string,
  count: number,
  grantOf: (i: number) => SeedGrant,
  provider = 'bench',
  idPrefix = 'acct-',
): Promise<void> {
  const store = new RedisStore(new Redis(redisUrl, { lazyConnect: true }), PREFIX)
  await store.connect()
  const now = Date.now()
  for (let start = 0; start < count; start += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - start) }, (_, k) => {
        const i = start + k
        const account = `${idPrefix}${i}`
        const g = grantOf(i)
        const write: GrantWrite = {
          provider,
          grantId: `g${i}`,
          scope: g.scope ?? 'openid email',
          tokenType: 'Bearer',
          expiresAt: g.expiresAt,
          accessToken: keyRing.seal(account, ACCESS_FIELD, g.accessToken),
          refreshToken: keyRing.seal(account, REFRESH_FIELD, g.refreshToken),
          meta: g.meta ?? null,
          fromProvider: false,
          keepRefreshToken: false,
        }
        return store.writeGrant(account, write, now).then(() => queue(store, account, g.queueWithSkewMs))
      }),
    )
  }
  await store.close()
}

/** The due time the broker itself gives an imported grant (refresh policy, jitter included). */
async function queue(store: RedisStore, account: string, skewMs: number | undefined): Promise<void> {
  if (skewMs === undefined) return
  const grant = await store.getGrant(account)
  if (grant) await store.setRefreshDue(account, refreshDueAt(grant, skewMs, null))
}

/** The bare route's value for each account: the JSON a caller would get. */
export async function seedBare(redisUrl: string, count: number): Promise<void> {
  const redis = new Redis(redisUrl)
  const pipeline = redis.pipeline()
  for (let i = 0; i < count; i++) {
    pipeline.set(
      `bare:acct-${i}`,
      JSON.stringify({
        account: `acct-${i}`,
        provider: 'bench',
        access_token: `at-${i}-${'x'.repeat(150)}`,
        token_type: 'Bearer',
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        expires_in: 3600,
        scope: 'openid email',
      }),
    )
  }
  await pipeline.exec()
  await redis.quit()
}
