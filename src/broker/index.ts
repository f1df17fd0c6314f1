import { AccountNotFoundError } from '../errors.js'
import type { EventContext } from '../events/events.js'
import type { BrokerDeps } from './deps.js'
import { cachedAccess, forceRefresh, getAccess, readForServing, servedAsRead, type ServingRead } from './get-access.js'
import { importAccount, type ImportRequest } from './import-account.js'
import { completeLink, type CallbackQuery } from './link/complete-link.js'
import { startLink, type StartLinkRequest } from './link/start-link.js'
import { listAccounts, type ListQuery } from './list-accounts.js'
import { Refresher } from './refresh/refresher.js'
import { revokeAccount } from './revoke.js'
import { DEFAULT_SCHEDULER, RefreshScheduler, type SchedulerOptions } from './refresh/scheduler.js'
import { accountState } from './grant-state.js'
import { AccessCache, invalidating } from './access-cache.js'
import { reportDurability } from './refresh/durability-report.js'

export type { BrokerDeps } from './deps.js'

/** The domain's operations, bound to their dependencies. Knows nothing of HTTP. */
export function createBroker(given: BrokerDeps, schedulerOptions: SchedulerOptions = DEFAULT_SCHEDULER) {
  const accessCache = new AccessCache(given.store, {
    ...(given.settings.accessCache ?? { ttlMs: 0, maxEntries: 1 }),
    skewMs: given.settings.refreshSkewSeconds * 1000,
  })
  const deps: BrokerDeps = { ...given, store: invalidating(given.store, accessCache), accessCache }
  reportDurability(deps)
  const refresher = new Refresher(deps)
  const issued = <T extends { account: string; provider: string }>(token: T, ctx: EventContext): T => {
    deps.metrics.tokensIssued.inc(token.provider)
    // Named fields, not `{ ...ctx, event }`: on Node 20 a spread followed by more properties
    // costs about 2 µs, more than the rest of a cached answer's domain work.
    deps.events.emit({
      sub: ctx.sub,
      requestId: ctx.requestId,
      event: 'token.issued',
      account: token.account,
      provider: token.provider,
      outcome: 'success',
    })
    return token
  }
  const scheduler = new RefreshScheduler(deps, refresher, schedulerOptions)
  return {
    /** Proactive refresh: server.ts starts it when PROACTIVE_REFRESH is on. */
    scheduler,
    async close() {
      await scheduler.stop()
      accessCache.close()
    },
    importAccount: (account: string, req: ImportRequest, ctx: EventContext) => importAccount(deps, account, req, ctx),
    listAccounts: (q: ListQuery) => listAccounts(deps, q),
    startLink: (req: StartLinkRequest) => startLink(deps, req),
    revokeAccount: (account: string, ctx: EventContext) => revokeAccount(deps, refresher, account, ctx),
    completeLink: (q: CallbackQuery, ctx: EventContext) => completeLink(deps, q, ctx),
    /** The near cache's answer without waiting, or undefined: then `getAccess`, which does not look again. */
    cachedAccess(account: string, minTtlSeconds: number, ctx: EventContext) {
      const token = cachedAccess(deps, account, minTtlSeconds)
      return token && issued(token, ctx)
    },
    /** One store read for `servedAsRead`, handed to `getAccess` when that has no answer. */
    readForServing: (account: string) => readForServing(deps, account),
    /** The read's token when it serves as stored, or undefined: then `getAccess` with the same read. */
    servedAsRead(account: string, read: ServingRead, minTtlSeconds: number, ctx: EventContext) {
      const token = servedAsRead(deps, account, read, minTtlSeconds)
      return token && issued(token, ctx)
    },
    async getAccess(account: string, minTtlSeconds: number, ctx: EventContext, prior?: ServingRead) {
      return issued(await getAccess(deps, refresher, account, minTtlSeconds, ctx, prior), ctx)
    },
    async forceRefresh(account: string, rejectedToken: string | undefined, ctx: EventContext) {
      return issued(await forceRefresh(deps, refresher, account, rejectedToken, ctx), ctx)
    },
    async getAccount(account: string) {
      const grant = await deps.store.getGrant(account)
      if (!grant) throw new AccountNotFoundError(account)
      return accountState(deps, account, grant)
    },
    listProviders() {
      return [...deps.providers.values()].map((p) => ({
        name: p.name,
        template: p.template,
        scopes: p.scopes,
        pkce: p.pkce,
        revocation: p.revocation !== 'none' && Boolean(p.revocationUrl || p.issuer),
      }))
    },
  }
}

export type Broker = ReturnType<typeof createBroker>
