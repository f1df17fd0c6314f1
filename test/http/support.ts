/**
 * Shared pieces of the HTTP tests: a clock moved by hand, Redis contents, the contract's
 * error shape and hand-made JWTs.
 */
import assert from 'node:assert/strict'
import { createHmac, sign as cryptoSign, type KeyObject } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { TestContext } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import type { RedisServer } from '../helpers/redis-server.js'

/** 2030-01-01T00:00:00Z: far from the real clock, so a test clock shows in every time. */
export const T0 = Date.UTC(2030, 0, 1)

/** A clock the test moves by hand. */
export function manualClock(start = T0) {
  let now = start
  const clock = () => now
  return Object.assign(clock, {
    set: (ms: number) => {
      now = ms
    },
    advance: (ms: number) => {
      now += ms
    },
  })
}

/** A raw client on the test's Redis, closed when the test ends. */
export async function rawRedis(t: TestContext, server: RedisServer): Promise<Redis> {
  const client = new Redis(server.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  t.after(() =>
    client.quit().then(
      () => undefined,
      () => client.disconnect(),
    ),
  )
  return client
}

/** Every key and every value in Redis, as text (hashes field=value, sets and lists joined). */
export async function dumpRedis(client: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      const type = await client.type(key)
      if (type === 'hash') {
        out.set(
          key,
          Object.entries(await client.hgetall(key))
            .map(([f, v]) => `${f}=${v}`)
            .join('\n'),
        )
      } else if (type === 'string') {
        out.set(key, (await client.get(key)) ?? '')
      } else if (type === 'zset') {
        out.set(key, (await client.zrange(key, 0, -1, 'WITHSCORES')).join('\n'))
      } else if (type === 'set') {
        out.set(key, (await client.smembers(key)).join('\n'))
      } else if (type === 'list') {
        out.set(key, (await client.lrange(key, 0, -1)).join('\n'))
      } else {
        out.set(key, `<${type}>`)
      }
    }
  } while (cursor !== '0')
  return out
}

/** Asserts a response is the contract's error: status, code, reason phrase, non-empty message. */
export function assertError(res: LightMyRequestResponse, status: number, code: string, message: RegExp = /\S/): Record<string, unknown> {
  assert.match(String(res.headers['content-type']), /^application\/json/, `${status} ${code} is JSON: ${res.body}`)
  const body = res.json() as Record<string, unknown>
  assert.equal(typeof body.message, 'string', `message is a string: ${res.body}`)
  assert.deepEqual(body, { statusCode: status, code, error: STATUS_CODES[status], message: body.message }, res.body)
  assert.equal(res.statusCode, status, res.body)
  assert.match(body.message as string, message)
  return body
}

/** Asserts a 4xx in the contract's shape, whatever the code. */
export function assertClientError(res: LightMyRequestResponse, what: string): Record<string, unknown> {
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: 4xx, got ${res.statusCode} ${res.body}`)
  const body = res.json() as Record<string, unknown>
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `${what}: ${res.body}`)
  assert.equal(body.statusCode, res.statusCode, what)
  assert.equal(body.error, STATUS_CODES[res.statusCode], what)
  assert.match(String(body.code), /^[A-Z_]+$/, what)
  assert.match(String(body.message), /\S/, what)
  return body
}

// ---------------------------------------------------------------------------
// JWTs built by hand, so a test controls every header field and claim

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
export const nowSeconds = () => Math.floor(Date.now() / 1000)

export type JwtKey =
  | { alg: 'HS256'; secret: string | Buffer }
  | { alg: 'RS256'; key: KeyObject }
  | { alg: 'ES256'; key: KeyObject }
  | { alg: 'none' }

/** Signs exactly the header and payload given (plus `alg` and `typ`). */
export function makeJwt(key: JwtKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64url({ alg: key.alg, typ: 'JWT', ...header })}.${b64url(payload)}`
  let signature: Buffer
  switch (key.alg) {
    case 'none':
      signature = Buffer.alloc(0)
      break
    case 'HS256':
      signature = createHmac('sha256', key.secret).update(input).digest()
      break
    case 'RS256':
      signature = cryptoSign('sha256', Buffer.from(input), key.key)
      break
    case 'ES256':
      signature = cryptoSign('sha256', Buffer.from(input), { key: key.key, dsaEncoding: 'ieee-p1363' })
      break
  }
  return `${input}.${signature.toString('base64url')}`
}

/** Claims a caller normally has: sub, every scope, iat, exp in ten minutes. */
export function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds()
  return { sub: 'svc', scope: 'tokens:read tokens:revoke accounts:read accounts:write', iat: now, exp: now + 600, ...extra }
}

export const auth = (token: string) => ({ authorization: `Bearer ${token}` })
