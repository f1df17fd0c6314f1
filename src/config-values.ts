import { createPublicKey, type KeyObject } from 'node:crypto'
import type { TSchema } from '@sinclair/typebox'
import { ConfigError } from './config-error.js'
import { parseKeyRingSpec, type KeyRingSpec } from './crypto/key-ring.js'
import { isScope } from './scopes.js'

/** Parsers of single settings: text in, value out, or a ConfigError naming the variable. */

export interface HostPort {
  host: string
  port: number
}
export interface PublicKeyAuth {
  kind: 'public-key'
  pem: string
  algorithm: 'RS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'
}

export function hostPorts(list: string, variable: string): HostPort[] {
  return list.split(',').map((entry) => {
    const [host, port] = entry.split(':') as [string, string]
    const n = Number(port)
    if (n < 1 || n > 65535) throw new ConfigError(variable, `invalid port in "${entry}"`)
    return { host, port: n }
  })
}

const EC_ALGORITHMS: Record<string, 'ES256' | 'ES384' | 'ES512'> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
}

/** One key, one algorithm: pinning it rules out alg confusion (an HS256 token signed with the PEM). */
export function publicKeyConfig(pem: string): PublicKeyAuth {
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch {
    throw new ConfigError('AUTH_JWT_PUBLIC_KEY', 'is not a PEM public key')
  }
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  const algorithm = type === 'rsa' ? 'RS256' : type === 'ed25519' ? 'EdDSA' : type === 'ec' && curve ? EC_ALGORITHMS[curve] : undefined
  if (!algorithm) throw new ConfigError('AUTH_JWT_PUBLIC_KEY', `unsupported key type ${type ?? 'unknown'}`)
  return { kind: 'public-key', pem: key.export({ type: 'spki', format: 'pem' }).toString(), algorithm }
}

/** `600` (every scope) or `tokens:read=6000,accounts:write=60,*=600`. */
export function rateLimits(value: string): Record<string, number> {
  const bad = () => new ConfigError('RATE_LIMIT_PER_MINUTE', 'must be a number or scope=number pairs (scope or *)')
  if (/^\d{1,9}$/.test(value)) return { '*': Number(value) }
  const limits: Record<string, number> = { '*': 0 }
  for (const pair of value.split(',')) {
    const [scope, n] = pair.trim().split('=') as [string, string | undefined]
    if ((scope !== '*' && !isScope(scope)) || n === undefined || !/^\d{1,9}$/.test(n)) throw bad()
    limits[scope] = Number(n)
  }
  return limits
}

export interface WebhookTargets {
  urls: string[]
  /** URL → the receiver's own secret, for entries written `url|secret`. */
  secrets: Record<string, string>
  /** Some URL has no secret of its own (WEBHOOK_SECRET signs for it). */
  needsSharedSecret: boolean
}

/**
 * WEBHOOK_URLS: comma-separated `url` or `url|secret` (a secret of 16 characters or more,
 * without `|` or `,`). An entry is named by position, never echoed.
 */
export function webhookTargets(value: string | undefined): WebhookTargets {
  const secrets: Record<string, string> = {}
  let needsSharedSecret = false
  const urls = (value ?? '').split(',').map((entry, i) => {
    const bar = entry.lastIndexOf('|')
    const url = (bar < 0 ? entry : entry.slice(0, bar)).trim()
    const secret = bar < 0 ? null : entry.slice(bar + 1).trim()
    if (secret !== null && secret.length < 16)
      throw new ConfigError('WEBHOOK_URLS', `entry ${i + 1} has a secret shorter than 16 characters`)
    if (url !== '' && secret !== null) secrets[url] ??= secret
    if (url !== '' && secret === null) needsSharedSecret = true
    return url
  })
  return { urls: httpUrls(urls.join(','), 'WEBHOOK_URLS'), secrets, needsSharedSecret }
}

/**
 * A comma-separated list of distinct http(s) URLs. An entry is named by its position, never
 * echoed: a webhook URL may carry a secret in its path.
 */
export function httpUrls(value: string | undefined, variable: string): string[] {
  const urls = [
    ...new Set(
      (value ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    ),
  ]
  urls.forEach((url, i) => {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new ConfigError(variable, `entry ${i + 1} is not an http(s) URL`)
    }
  })
  return urls
}

/**
 * What is wrong with a value and what would be right: the allowed values of a choice (echoing
 * the value, which a choice never makes secret), the range of a number, true or false, or the
 * expected form. Other values are never echoed: they may be secrets.
 */
export function describeInvalid(schema: TSchema, value: unknown, fallback: string): string {
  const choices = (schema.anyOf as TSchema[] | undefined)?.map((member) => member.const)
  if (choices?.every((c) => typeof c === 'string')) return `invalid value "${String(value)}" (one of: ${choices.join(', ')})`
  if (schema.type === 'integer') return `must be a whole number from ${schema.minimum} to ${schema.maximum}`
  if (schema.type === 'boolean') return 'must be true or false'
  if (typeof schema.pattern === 'string' && /^\^https\?/.test(schema.pattern)) return 'must be an http:// or https:// URL'
  if (typeof schema.pattern === 'string' && /^\^rediss\?/.test(schema.pattern)) return 'must be a redis:// or rediss:// URL'
  if (typeof schema.pattern === 'string' && schema.pattern.includes('\\d{1,5}')) return 'must be host:port[,host:port...]'
  if (schema.pattern === '^[^\\s{}]*$') return 'must not contain spaces, { or }'
  if (typeof value === 'string' && typeof schema.maxLength === 'number' && value.length > schema.maxLength) {
    return `is too long (at most ${schema.maxLength} characters)`
  }
  if (typeof value === 'string' && typeof schema.minLength === 'number' && value.length < schema.minLength) {
    return `is too short (at least ${schema.minLength} characters)`
  }
  return `invalid value (${fallback.toLowerCase()})`
}

const KEYS_HINT = 'generate one with `npx token-broker keys generate`'

/** ENCRYPTION_KEYS, with the way to make a key in every message (and the .env.example placeholder recognized). */
export function encryptionKeys(value: string): KeyRingSpec {
  if (value.startsWith('REPLACE_ME')) {
    throw new ConfigError('ENCRYPTION_KEYS', `is still the .env.example placeholder: ${KEYS_HINT} and put its output here`)
  }
  try {
    return parseKeyRingSpec(value)
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ConfigError('ENCRYPTION_KEYS', `${error.message.slice('ENCRYPTION_KEYS '.length)} (${KEYS_HINT})`)
    throw error
  }
}
