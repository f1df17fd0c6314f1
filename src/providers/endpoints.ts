import { providerFetch } from './http.js'
import { isAllowedProviderUrl, type ProviderConfig } from './providers-file.js'
import { ProviderCallError } from './token-client.js'

export interface Endpoints {
  issuer: string | null
  authorizationUrl: string
  tokenUrl: string
  revocationUrl: string | null
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

  constructor(private readonly timeoutMs: number, private readonly clock: () => number = Date.now) {}

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
    const response = await providerFetch(`${issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } }, this.timeoutMs)
      .catch(() => { throw new ProviderCallError('transient', 'discovery_failed', null) })
    if (response.status >= 500 || response.status === 429) throw new ProviderCallError('transient', `discovery_http_${response.status}`, response.status)
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
  const pick = (configured: string | undefined, discovered: unknown): string | null => {
    const url = configured ?? (typeof discovered === 'string' ? discovered : undefined)
    if (url === undefined) return null
    if (!isAllowedProviderUrl(url)) throw new ProviderCallError('unexpected', 'endpoint_not_https', null)
    return url
  }
  const authorizationUrl = pick(provider.authorizationUrl, doc.authorization_endpoint)
  const tokenUrl = pick(provider.tokenUrl, doc.token_endpoint)
  if (!authorizationUrl || !tokenUrl) throw new ProviderCallError('unexpected', 'endpoints_missing', null)
  return {
    issuer: typeof doc.issuer === 'string' ? doc.issuer : provider.issuer ?? null,
    authorizationUrl,
    tokenUrl,
    revocationUrl: provider.revocation === 'none' ? null : pick(provider.revocationUrl, doc.revocation_endpoint),
    issParameterSupported: doc.authorization_response_iss_parameter_supported === true,
  }
}
