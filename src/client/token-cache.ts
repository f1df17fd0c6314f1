/** An access token as the client hands it out. */
export interface AccessToken {
  accessToken: string
  tokenType: string
  /** null when the provider gave no lifetime. */
  expiresAt: Date | null
  scope: string | null
}

/** The broker's token body (`GET /tokens/:account/access`, `POST /tokens/:account/refresh`). */
export interface AccessBody {
  access_token: string
  token_type: string
  expires_at: string | null
  expires_in: number | null
  scope: string | null
}

interface Entry {
  token: AccessToken
  staleAt: number
}

/**
 * Tokens per account, each kept until its expiry minus a skew: min(skewSeconds, half the
 * lifetime it had when fetched), as the broker does. A token without a lifetime is not kept.
 */
export class TokenCache {
  readonly #entries = new Map<string, Entry>()

  constructor(
    private readonly skewSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached token when it is fresh and has at least minTtl seconds left. */
  get(account: string, minTtl: number): AccessToken | undefined {
    const entry = this.#entries.get(account)
    if (!entry) return undefined
    const now = this.now()
    if (now >= entry.staleAt || entry.token.expiresAt!.getTime() - now < minTtl * 1000) return undefined
    return entry.token
  }

  /** Keeps a token from the broker and returns it in the client's shape. */
  put(account: string, body: AccessBody): AccessToken {
    const token: AccessToken = {
      accessToken: body.access_token,
      tokenType: body.token_type,
      expiresAt: body.expires_at === null ? null : new Date(body.expires_at),
      scope: body.scope,
    }
    if (token.expiresAt === null || body.expires_in === null) {
      this.#entries.delete(account)
      return token
    }
    const skewMs = Math.min(this.skewSeconds, body.expires_in / 2) * 1000
    this.#entries.set(account, { token, staleAt: token.expiresAt.getTime() - skewMs })
    return token
  }

  delete(account: string): void {
    this.#entries.delete(account)
  }
}
