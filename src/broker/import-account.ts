import { randomUUID } from 'node:crypto'
import type { EventContext } from '../events/events.js'
import { AccountConflictError, AccountNotFoundError, ProviderNotFoundError, ValidationError } from '../errors.js'
import type { BrokerDeps } from './deps.js'
import { ACCESS_FIELD, REFRESH_FIELD, sealOptional } from './secrets.js'
import { refreshDueAt } from './refresh/schedule.js'
import { accountView, type AccountView } from './views.js'

export interface ImportRequest {
  provider: string
  refresh_token?: string
  access_token?: string
  token_type?: string
  expires_at?: string
  expires_in?: number
  scope?: string
}

/** Stores an existing grant: created, or replaced when it belongs to the same provider. */
export async function importAccount(
  deps: BrokerDeps, account: string, req: ImportRequest, ctx: EventContext,
): Promise<{ created: boolean; view: AccountView }> {
  if (!deps.providers.has(req.provider)) throw new ProviderNotFoundError(req.provider)
  if (!req.access_token && !req.refresh_token) throw new ValidationError('body must have access_token or refresh_token')
  if (req.expires_at !== undefined && req.expires_in !== undefined) {
    throw new ValidationError('body must not have both expires_at and expires_in')
  }
  const now = deps.clock()
  const expiresAt = req.expires_in !== undefined ? now + req.expires_in * 1000 : parseInstant(req.expires_at)
  const { keyRing, store } = deps
  const previous = await store.getGrant(account)
  const outcome = await store.writeGrant(account, {
    provider: req.provider,
    grantId: randomUUID(),
    scope: req.scope ?? null,
    tokenType: req.token_type ?? 'Bearer',
    expiresAt: req.access_token ? expiresAt : null,
    accessToken: sealOptional(keyRing, account, ACCESS_FIELD, req.access_token),
    refreshToken: sealOptional(keyRing, account, REFRESH_FIELD, req.refresh_token),
    meta: null,
    keepRefreshToken: false,
  }, now)
  if (outcome === 'conflict') throw new AccountConflictError(account)
  const grant = await store.getGrant(account)
  if (!grant) throw new AccountNotFoundError(account) // deleted in between
  const dueAt = grant.refreshToken ? refreshDueAt(grant.expiresAt, deps.settings.refreshSkewSeconds, now, account) : null
  await store.setRefreshDue(account, dueAt)
  deps.log.info({ account, provider: req.provider, outcome }, 'account imported')
  deps.events.emit({ ...ctx, event: 'account.imported', account, provider: req.provider, outcome })
  if (previous?.status === 'reauth_required') {
    deps.events.emit({ ...ctx, event: 'account.recovered', account, provider: req.provider, outcome: 'imported' })
  }
  return { created: outcome === 'created', view: accountView(account, grant) }
}

function parseInstant(value: string | undefined): number | null {
  if (value === undefined) return null
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new ValidationError('body/expires_at must be an ISO 8601 date-time')
  return ms
}
