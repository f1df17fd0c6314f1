import { callBroker, type CallerToken } from './broker-call.js'
import { withRetries } from './retry.js'
import { SingleFlight } from './single-flight.js'
import { TokenCache, type AccessBody, type AccessToken } from './token-cache.js'

export interface TokenBrokerClientOptions {
  /** The broker's base URL, e.g. `https://token-broker.internal` (a path prefix is kept). */
  baseUrl: string | URL
  /** The caller's JWT, or a function returning it (called for every broker request, so it may rotate). */
  token: CallerToken
  /** A cached token is used until this many seconds before it expires (at most half its lifetime). Default 60. */
  skewSeconds?: number
  /** Retries after a 503 from the broker, each after its Retry-After. Default 3. */
  maxRetries?: number
  /** Overall deadline of one token request, retries included. Default 30000. */
  timeoutMs?: number
  /** The fetch used for the broker and for `client.fetch`. Default: the global fetch. */
  fetch?: typeof globalThis.fetch
}

export interface GetTokenOptions {
  /** Seconds the token must still be valid for (0-3600). Default 0. */
  minTtl?: number
}

const MAX_MIN_TTL = 3600
const accountPath = (account: string) => `tokens/${encodeURIComponent(account)}`

/**
 * A caller of token-broker: cached, single-flighted access tokens, and `fetch` with the
 * "refresh once on 401, retry" dance. Errors are TokenBrokerError subclasses carrying the
 * contract's `code`.
 */
export class TokenBrokerClient {
  readonly #baseUrl: URL
  readonly #token: CallerToken
  readonly #maxRetries: number
  readonly #timeoutMs: number
  readonly #fetch: typeof globalThis.fetch
  readonly #cache: TokenCache
  readonly #flights = new SingleFlight<AccessToken>()

  constructor(o: TokenBrokerClientOptions) {
    const base = new URL(o.baseUrl)
    if (!base.pathname.endsWith('/')) base.pathname += '/'
    this.#baseUrl = base
    this.#token = o.token
    this.#maxRetries = o.maxRetries ?? 3
    this.#timeoutMs = o.timeoutMs ?? 30_000
    this.#fetch = o.fetch ?? globalThis.fetch
    this.#cache = new TokenCache(o.skewSeconds ?? 60)
  }

  /** A usable access token for `account`, from the cache while it is fresh enough. */
  async getToken(account: string, { minTtl = 0 }: GetTokenOptions = {}): Promise<AccessToken> {
    if (!Number.isInteger(minTtl) || minTtl < 0 || minTtl > MAX_MIN_TTL) {
      throw new RangeError(`minTtl must be whole seconds from 0 to ${MAX_MIN_TTL}`)
    }
    const cached = this.#cache.get(account, minTtl)
    if (cached) return cached
    return this.#flights.run(`access ${minTtl} ${account}`, () =>
      this.#request(account, 'GET', `${accountPath(account)}/access?min_ttl=${minTtl}`),
    )
  }

  /**
   * A token other than `rejectedToken`, which the provider just refused: one
   * `POST /tokens/:account/refresh` however many callers report the same token at once,
   * and none when a newer token is already cached.
   */
  async refresh(account: string, { rejectedToken }: { rejectedToken?: string } = {}): Promise<AccessToken> {
    const cached = this.#cache.get(account, 0)
    if (cached && rejectedToken !== undefined && cached.accessToken !== rejectedToken) return cached
    this.#cache.delete(account)
    const body = rejectedToken === undefined ? {} : { rejected_token: rejectedToken }
    return this.#flights.run(`refresh ${account} ${rejectedToken ?? ''}`, () =>
      this.#request(account, 'POST', `${accountPath(account)}/refresh`, body),
    )
  }

  /**
   * `fetch` to the provider's API as `account`: with the current token, and on a 401 once
   * more with a refreshed one. The second answer is returned whatever it is.
   */
  async fetch(account: string, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init)
    const first = await this.getToken(account)
    const answer = await this.#fetch(withToken(request.clone(), first))
    if (answer.status !== 401) return answer
    await answer.body?.cancel()
    const second = await this.refresh(account, { rejectedToken: first.accessToken })
    return this.#fetch(withToken(request, second))
  }

  async #request(account: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<AccessToken> {
    const deadline = Date.now() + this.#timeoutMs
    const signal = AbortSignal.timeout(this.#timeoutMs)
    const answer = await withRetries(
      () =>
        callBroker<AccessBody>({
          fetch: this.#fetch,
          baseUrl: this.#baseUrl,
          token: this.#token,
          method,
          path,
          body,
          signal,
        }),
      { maxRetries: this.#maxRetries, deadline },
    )
    return this.#cache.put(account, answer)
  }
}

/** The request with `Authorization: <type> <token>` (a `bearer` type is sent as `Bearer`). */
function withToken(request: Request, token: AccessToken): Request {
  const headers = new Headers(request.headers)
  const type = token.tokenType.toLowerCase() === 'bearer' ? 'Bearer' : token.tokenType
  headers.set('authorization', `${type} ${token.accessToken}`)
  return new Request(request, { headers })
}
