import { AccountConflictError, ProviderNotFoundError, InvalidInputError } from '../../errors.js'
import type { BrokerDeps } from '../deps.js'
import { linkEndpoints } from './provider-failure.js'
import { checkReturnTo } from './return-to.js'
import { STATE_FIELD, STATE_TTL_SECONDS, challengeOf, newState, newVerifier, type LinkState } from './link-state.js'

export interface StartLinkRequest {
  provider: string
  account: string
  scope?: string
  returnTo?: string
  /** Only this provider identity may complete the link (OpenID providers). */
  expectedSubject?: string
  /** Passed to the provider to preselect the account. */
  loginHint?: string
  sub: string
  requestId?: string
}

/**
 * Starts linking: a single-use state (10 minutes) bound to provider, account, scope,
 * caller, return_to, issuer and PKCE verifier, and the provider's authorization URL.
 */
/** A started link: where to send the admin, and until when (epoch ms) the state is good. */
export interface LinkStarted {
  authorizationUrl: string
  state: string
  expiresAt: number
}

export async function startLink(deps: BrokerDeps, req: StartLinkRequest): Promise<LinkStarted> {
  const provider = deps.providers.get(req.provider)
  if (!provider) throw new ProviderNotFoundError(req.provider)
  const returnTo = req.returnTo === undefined ? null : checkReturnTo(req.returnTo, deps.settings.returnToAllowlist)
  if (req.expectedSubject !== undefined && !provider.issuer) {
    throw new InvalidInputError('expected_subject', 'needs an OpenID provider (one with an issuer)')
  }
  const existing = await deps.store.getGrant(req.account)
  if (existing && existing.provider !== provider.name) throw new AccountConflictError(req.account)

  const endpoints = await linkEndpoints(deps, provider)
  const now = deps.clock()
  const scope = req.scope ?? provider.scopes.join(' ')
  const link: LinkState = {
    provider: provider.name,
    account: req.account,
    scope,
    sub: req.sub,
    returnTo,
    verifier: provider.pkce ? newVerifier() : null,
    issuer: endpoints.issuer,
    issRequired: endpoints.issParameterSupported,
    expectedSubject: req.expectedSubject ?? null,
    createdAt: now,
  }
  const state = newState()
  await deps.store.putConnectState(state, deps.keyRing.seal(state, STATE_FIELD, JSON.stringify(link)), STATE_TTL_SECONDS)

  const url = new URL(endpoints.authorizationUrl)
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: provider.clientId,
    redirect_uri: deps.settings.redirectUri,
    state,
    ...provider.authorizeParams,
  }
  if (scope) params[provider.scopeParam] = scope.split(/\s+/).filter(Boolean).join(provider.scopeSeparator)
  if (link.verifier) Object.assign(params, { code_challenge: challengeOf(link.verifier), code_challenge_method: 'S256' })
  if (req.loginHint !== undefined) params.login_hint = req.loginHint
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  // The URL is a bearer capability until used: record who asked for it.
  deps.log.info({ account: req.account, provider: provider.name, sub: req.sub, restricted: link.expectedSubject !== null }, 'link started')
  deps.events.emit({
    event: 'account.link_started',
    sub: req.sub,
    requestId: req.requestId,
    account: req.account,
    provider: provider.name,
    outcome: 'started',
    detail: link.expectedSubject === null ? undefined : `expected ${link.expectedSubject}`,
  })
  return { authorizationUrl: url.toString(), state, expiresAt: now + STATE_TTL_SECONDS * 1000 }
}
