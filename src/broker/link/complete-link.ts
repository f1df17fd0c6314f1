import {
  AuthorizationDeniedError,
  IdentityMismatchError,
  InvalidInputError,
  InvalidStateError,
  IssuerMismatchError,
  ProviderNotFoundError,
} from '../../errors.js'
import { requestToken } from '../../providers/token-client.js'
import { describeIdentity, fetchIdentity, identityMatches } from '../../providers/userinfo.js'
import type { TokenSet } from '../../providers/token-response.js'
import type { EventContext } from '../../events/events.js'
import type { BrokerDeps } from '../deps.js'
import { expiryOf } from '../token-expiry.js'
import { storeGrant } from '../store-grant.js'
import { STATE_FIELD, type LinkState } from './link-state.js'
import { linkEndpoints, linkFailure } from './provider-failure.js'

export interface CallbackQuery {
  state?: string
  code?: string
  error?: string
  iss?: string
}

export interface LinkResult {
  account: string
  provider: string
  scope: string | null
  /** Epoch ms, or null when the provider gave no lifetime. */
  expiresAt: number | null
  returnTo: string | null
}

/**
 * Completes linking: consumes the state (once), checks the issuer before anything else,
 * exchanges the code with the PKCE verifier, and stores the grant sealed. A relink keeps
 * the stored refresh token when the provider sends none, and makes the account active.
 */
export async function completeLink(deps: BrokerDeps, q: CallbackQuery, request: EventContext): Promise<LinkResult> {
  const link = await takeState(deps, q.state)
  const ctx = { ...request, sub: link.sub }
  if (q.iss !== undefined ? link.issuer !== null && q.iss !== link.issuer : link.issRequired) {
    deps.log.warn({ account: link.account, provider: link.provider }, 'callback issuer mismatch (possible mix-up attack)')
    throw new IssuerMismatchError()
  }
  if (q.error !== undefined) {
    deps.events.emit({
      ...ctx,
      event: 'account.linked',
      account: link.account,
      provider: link.provider,
      outcome: 'denied',
      detail: q.error.slice(0, 64),
    })
    throw new AuthorizationDeniedError(q.error.slice(0, 64))
  }
  if (!q.code) throw new InvalidInputError(null, 'must have code or error')
  const provider = deps.providers.get(link.provider)
  if (!provider) throw new ProviderNotFoundError(link.provider)

  const endpoints = await linkEndpoints(deps, provider)
  const params: Record<string, string> = {
    grant_type: 'authorization_code',
    code: q.code,
    redirect_uri: deps.settings.redirectUri,
    ...provider.tokenParams,
  }
  if (link.verifier) params.code_verifier = link.verifier
  let tokens: TokenSet
  // A token's lifetime counts from when it was asked for: the answer may be read late.
  const requestedAt = deps.clock()
  try {
    tokens = await requestToken(provider, endpoints.tokenUrl, params, deps.settings.providerTimeoutMs)
  } catch (error) {
    throw linkFailure(error, deps.log, { account: link.account, provider: provider.name }, 'code exchange')
  }

  const { account } = link
  // Whoever opened the authorization URL first chose the identity: check it when the link was restricted.
  const identity = endpoints.userinfoUrl
    ? await fetchIdentity(endpoints.userinfoUrl, tokens.accessToken, deps.settings.providerTimeoutMs)
    : null
  if (link.expectedSubject && !identityMatches(identity, link.expectedSubject)) {
    deps.log.warn(
      { account, provider: provider.name, sub: link.sub, identity: describeIdentity(identity) },
      'link completed by an unexpected identity; nothing stored',
    )
    deps.events.emit({
      ...ctx,
      event: 'account.linked',
      account,
      provider: provider.name,
      outcome: 'identity_mismatch',
      detail: describeIdentity(identity),
    })
    throw new IdentityMismatchError()
  }
  const expiresAt = expiryOf(deps, provider.name, tokens.expiresIn, tokens.lifetimeAnomaly, requestedAt)
  const { grant } = await storeGrant(
    deps,
    account,
    {
      provider: provider.name,
      scope: tokens.scope ?? (link.scope || null),
      tokenType: tokens.tokenType,
      expiresAt,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      meta: tokens.meta ? JSON.stringify(tokens.meta) : null,
      fromProvider: true,
      keepRefreshToken: true,
    },
    'linked',
    ctx,
    {
      identity: describeIdentity(identity),
      detail: endpoints.userinfoUrl ? describeIdentity(identity) : undefined,
    },
  )
  return { account, provider: provider.name, scope: grant.scope, expiresAt: grant.expiresAt, returnTo: link.returnTo }
}

async function takeState(deps: BrokerDeps, state: string | undefined): Promise<LinkState> {
  if (!state || !/^[A-Za-z0-9_-]{1,128}$/.test(state)) throw new InvalidStateError()
  const sealed = await deps.store.takeConnectState(state)
  if (!sealed) throw new InvalidStateError()
  try {
    return JSON.parse(deps.keyRing.open(state, STATE_FIELD, sealed)) as LinkState
  } catch {
    throw new InvalidStateError()
  }
}
