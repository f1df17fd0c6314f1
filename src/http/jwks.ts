import { createPublicKey, type JsonWebKey } from 'node:crypto'

export interface JwksSettings {
  /** Least time between two fetches of the key set (an unknown kid never fetches sooner). */
  minRefetchIntervalMs: number
  /** Age after which the key set is fetched again on the next use (keys removed upstream stop working). */
  maxAgeMs: number
  /** Timeout of one fetch. */
  timeoutMs: number
  /** Monotonic milliseconds. */
  now: () => number
}

/**
 * Read when an app is built. Module-level on purpose: the timing is not an operator
 * setting, and tests shorten it (or move the clock) before building their app.
 */
export const jwksSettings: JwksSettings = {
  minRefetchIntervalMs: 10_000,
  maxAgeMs: 10 * 60_000,
  timeoutMs: 5_000,
  now: () => performance.now(),
}

const MAX_BYTES = 512 * 1024
const MAX_KEYS = 100
const KEY_TYPES = new Set(['RSA', 'EC', 'OKP'])

interface Key {
  alg: string | undefined
  pem: string
}

/**
 * The caller-JWT verification keys of one JWKS URL, the only place keys come from.
 *
 * The whole set is fetched at once and kept by kid. A token whose kid is not in the set
 * may trigger a fetch (a key that rotated in), but at most one per `minRefetchIntervalMs`
 * however many tokens arrive: otherwise any client could make the broker hammer the
 * identity provider with random kids. Until the interval has passed, an unknown kid is
 * simply refused. Concurrent lookups share one fetch. A failed fetch keeps the set in hand.
 */
export class JwksKeySet {
  private keys = new Map<string | undefined, Key[]>()
  private fetchedAt = Number.NEGATIVE_INFINITY
  private attemptedAt = Number.NEGATIVE_INFINITY
  private inflight: Promise<void> | null = null

  constructor(
    private readonly url: URL,
    private readonly onFetchError: (message: string) => void,
    private readonly settings: JwksSettings = { ...jwksSettings },
  ) {}

  /** The PEM of the key for this token header; throws when there is none. */
  async keyFor(kid: unknown, alg: unknown): Promise<string> {
    if (kid !== undefined && typeof kid !== 'string') throw new Error('the kid header must be a string')
    if (typeof alg !== 'string') throw new Error('the alg header must be a string')
    const now = this.settings.now()
    const stale = now - this.fetchedAt >= this.settings.maxAgeMs
    if (stale || !this.find(kid, alg)) {
      if (now - this.attemptedAt >= this.settings.minRefetchIntervalMs) await this.refresh(now)
      else if (this.inflight) await this.inflight
    }
    const key = this.find(kid, alg)
    if (!key) throw new Error('no key in the key set matches the token')
    return key.pem
  }

  private find(kid: string | undefined, alg: string): Key | undefined {
    return this.keys.get(kid)?.find((k) => k.alg === undefined || k.alg === alg)
  }

  private refresh(now: number): Promise<void> {
    if (this.inflight) return this.inflight
    this.attemptedAt = now
    this.inflight = this.fetchSet()
      .then((keys) => {
        this.keys = keys
        this.fetchedAt = this.settings.now()
      })
      .catch((error: unknown) => this.onFetchError(error instanceof Error ? error.message : String(error)))
      .finally(() => {
        this.inflight = null
      })
    return this.inflight
  }

  private async fetchSet(): Promise<Map<string | undefined, Key[]>> {
    const res = await fetch(this.url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.settings.timeoutMs),
    })
    if (!res.ok) {
      await res.body?.cancel()
      throw new Error(`the JWKS URL answered ${res.status}`)
    }
    const doc = JSON.parse(await readLimited(res, MAX_BYTES)) as { keys?: unknown }
    if (!Array.isArray(doc?.keys)) throw new Error('the JWKS document has no keys array')
    const keys = new Map<string | undefined, Key[]>()
    for (const jwk of doc.keys.slice(0, MAX_KEYS) as unknown[]) {
      const parsed = toKey(jwk)
      if (!parsed) continue
      const list = keys.get(parsed.kid) ?? []
      list.push(parsed.key)
      keys.set(parsed.kid, list)
    }
    return keys
  }
}

/** A public signing key of the set, or null for anything else (encryption keys, symmetric keys, junk). */
function toKey(jwk: unknown): { kid: string | undefined; key: Key } | null {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return null
  const { kid, alg, use, kty } = jwk as Record<string, unknown>
  if (kid !== undefined && typeof kid !== 'string') return null
  if (alg !== undefined && typeof alg !== 'string') return null
  if (use !== undefined && use !== 'sig') return null
  if (typeof kty !== 'string' || !KEY_TYPES.has(kty)) return null
  try {
    const pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString()
    return { kid, key: { alg, pem } }
  } catch {
    return null
  }
}

async function readLimited(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'))
  if (declared > limit) {
    await res.body?.cancel()
    throw new Error('the JWKS document is too large')
  }
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > limit) throw new Error('the JWKS document is too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
