import { providerFetch } from './http.js'
import type { ProviderConfig } from './providers-file.js'
import { ProviderCallError } from './token-client.js'
import { isLoopbackHost } from '../url-policy.js'

export interface Endpoints {
  issuer: string | null
  authorizationUrl: string
  tokenUrl: string
  revocationUrl: string | null
  /** OIDC userinfo endpoint (discovered only): who completed a link, when the id_token is not at hand. */
  userinfoUrl: string | null
  /** RFC 9207: the provider sends `iss` on its authorization responses. */
  issParameterSupported: boolean
}

const DISCOVERY_TTL_MS = 60 * 60_000

/**
 * A provider's endpoints: from its config, completed by OIDC discovery from `issuer`
 * (cached for an hour; a failed discovery is not cached). Config fields win.
 */
export class EndpointResolver {
  private readonly cache = new Map<string, { at: number; endpoints: Promise<Endpoints> }>()

  constructor(
    private readonly timeoutMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  resolve(provider: ProviderConfig): Promise<Endpoints> {
    if (!provider.issuer) return Promise.resolve(fromConfig(provider, {}))
    const cached = this.cache.get(provider.name)
    if (cached && this.clock() - cached.at < DISCOVERY_TTL_MS) return cached.endpoints
    const endpoints = this.discover(provider).catch((error: unknown) => {
      this.cache.delete(provider.name)
      throw error
    })
    this.cache.set(provider.name, { at: this.clock(), endpoints })
    return endpoints
  }

  private async discover(provider: ProviderConfig): Promise<Endpoints> {
    const issuer = provider.issuer!.replace(/\/+$/, '')
    const response = await providerFetch(
      `${issuer}/.well-known/openid-configuration`,
      { headers: { accept: 'application/json' } },
      this.timeoutMs,
    ).catch(() => {
      throw new ProviderCallError('transient', 'discovery_failed', null)
    })
    if (response.status >= 500 || response.status === 429)
      throw new ProviderCallError('transient', `discovery_http_${response.status}`, response.status)
    const doc = response.body as Record<string, unknown> | null
    if (response.status !== 200 || !doc || typeof doc !== 'object') {
      throw new ProviderCallError('unexpected', 'discovery_invalid', response.status)
    }
    if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/+$/, '') !== issuer) {
      throw new ProviderCallError('unexpected', 'discovery_issuer_mismatch', response.status)
    }
    return fromConfig(provider, doc)
  }
}

function fromConfig(provider: ProviderConfig, doc: Record<string, unknown>): Endpoints {
  // Configured URLs were checked when the providers file was loaded; discovered ones are checked here.
  const pick = (configured: string | undefined, discovered: unknown): string | null => {
    if (configured !== undefined) return configured
    if (typeof discovered !== 'string') return null
    if (!isAllowedDiscoveredUrl(provider.issuer!, discovered, provider.allowedHosts)) {
      throw new ProviderCallError('unexpected', 'discovered_endpoint_not_allowed', null)
    }
    return discovered
  }
  const authorizationUrl = pick(provider.authorizationUrl, doc.authorization_endpoint)
  const tokenUrl = pick(provider.tokenUrl, doc.token_endpoint)
  if (!authorizationUrl || !tokenUrl) throw new ProviderCallError('unexpected', 'endpoints_missing', null)
  return {
    issuer: typeof doc.issuer === 'string' ? doc.issuer : (provider.issuer ?? null),
    authorizationUrl,
    tokenUrl,
    revocationUrl: provider.revocation === 'none' ? null : pick(provider.revocationUrl, doc.revocation_endpoint),
    userinfoUrl: provider.issuer ? pick(undefined, doc.userinfo_endpoint) : null,
    issParameterSupported: doc.authorization_response_iss_parameter_supported === true,
  }
}

/**
 * An endpoint named by a discovery document is trusted no more than the issuer: it must
 * use https (plain http only when the issuer itself is on loopback, and then only to
 * loopback), carry no userinfo, and live on the issuer's host and port or on a host the
 * providers file lists in `allowed_hosts`. Otherwise a hostile or compromised discovery
 * document could send codes, refresh tokens and the client secret anywhere, a local
 * port included (SSRF).
 */
export function isAllowedDiscoveredUrl(issuer: string, url: string, allowedHosts: readonly string[]): boolean {
  if (!URL.canParse(url) || !URL.canParse(issuer)) return false
  const endpoint = new URL(url)
  const origin = new URL(issuer)
  if (endpoint.username !== '' || endpoint.password !== '') return false
  const scheme =
    endpoint.protocol === 'https:' ||
    (endpoint.protocol === 'http:' && isLoopbackHost(origin.hostname) && isLoopbackHost(endpoint.hostname))
  return scheme && (endpoint.host === origin.host || allowedHosts.includes(endpoint.host))
}
