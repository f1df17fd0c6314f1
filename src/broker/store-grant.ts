import { randomUUID } from 'node:crypto'
import { AccountConflictError, AccountNotFoundError } from '../errors.js'
import type { EventContext } from '../events/events.js'
import type { GrantRecord, GrantWrite, GrantWriteOutcome } from '../store/store.js'
import type { BrokerDeps } from './deps.js'
import { dueAtFor } from './refresh/policy.js'
import { ACCESS_FIELD, REFRESH_FIELD, sealOptional } from './secrets.js'

/** A whole grant as an import or a link brings it, tokens in plaintext (sealed here). */
export interface NewGrant extends Omit<GrantWrite, 'grantId' | 'accessToken' | 'refreshToken'> {
  accessToken: string | null | undefined
  refreshToken: string | null | undefined
}

export interface StoredGrant {
  outcome: Exclude<GrantWriteOutcome, 'conflict'>
  grant: GrantRecord
}

/**
 * The one write of import and link: a new grant lineage, sealed, created or replacing one of
 * the same provider, queued for proactive refresh, logged and announced (`account.imported`
 * or `account.linked`, and `account.recovered` when it replaces a grant that needed a relink).
 */
export async function storeGrant(
  deps: BrokerDeps,
  account: string,
  grant: NewGrant,
  how: 'imported' | 'linked',
  ctx: EventContext,
  about: { identity?: string; detail?: string } = {},
): Promise<StoredGrant> {
  const { store, keyRing } = deps
  const previous = await store.getGrant(account)
  const outcome = await store.writeGrant(
    account,
    {
      ...grant,
      grantId: randomUUID(),
      accessToken: sealOptional(keyRing, account, ACCESS_FIELD, grant.accessToken),
      refreshToken: sealOptional(keyRing, account, REFRESH_FIELD, grant.refreshToken),
    },
    deps.clock(),
  )
  if (outcome === 'conflict') throw new AccountConflictError(account)
  const stored = await store.getGrant(account)
  if (!stored) throw new AccountNotFoundError(account) // deleted in between
  await store.setRefreshDue(account, dueAtFor(deps, stored))
  deps.log.info({ account, provider: grant.provider, outcome, sub: ctx.sub, identity: about.identity }, `account ${how}`)
  deps.events.emit({ ...ctx, event: `account.${how}`, account, provider: grant.provider, outcome, detail: about.detail })
  if (previous?.status === 'reauth_required') {
    deps.events.emit({ ...ctx, event: 'account.recovered', account, provider: grant.provider, outcome: how })
  }
  return { outcome, grant: stored }
}
