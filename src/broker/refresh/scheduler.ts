import { AccountNotFoundError, ReauthenticationRequiredError, StoreUnavailableError } from '../../errors.js'
import { throttled } from '../../log-throttle.js'
import type { BrokerDeps } from '../deps.js'
import type { Refresher } from './refresher.js'
import { dueAtFor } from './policy.js'

export interface SchedulerOptions {
  intervalMs: number
  /** Due accounts taken per tick. */
  batch: number
  /** Proactive refreshes running at once per provider, in this instance. */
  perProviderConcurrency: number
  /** Delay before a grant whose proactive refresh failed for a reason without a shared backoff (store away) is tried again. */
  retryDelayMs: number
}

export const DEFAULT_SCHEDULER: SchedulerOptions = { intervalMs: 1000, batch: 50, perProviderConcurrency: 4, retryDelayMs: 30_000 }

/**
 * Refreshes grants ahead of expiry so callers almost never wait on a provider. Each tick
 * reads the due index (sorted sets, no KEYS/SCAN), and refreshes each due grant through
 * the same lock and fenced commit as a request, skipping grants another holder is on.
 */
export class RefreshScheduler {
  private timer: NodeJS.Timeout | null = null
  private readonly active = new Map<string, number>()
  private readonly running = new Set<Promise<unknown>>()
  private stopped = false
  private readonly warnThrottled = throttled(60_000)

  constructor(private readonly deps: BrokerDeps, private readonly refresher: Refresher,
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER) {}

  start(): void {
    this.stopped = false
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await Promise.allSettled([...this.running])
  }

  /** One pass over the due index; resolves when the refreshes it started have finished. */
  async tick(): Promise<void> {
    const { store, clock, metrics } = this.deps
    const now = clock()
    const due = await store.listRefreshDue(now, this.options.batch)
    metrics.schedulerLag.set(due.length > 0 ? Math.max(0, (now - due[0]!.dueAt) / 1000) : 0)
    const started: Promise<unknown>[] = []
    for (const { account } of due) {
      const grant = await store.getGrant(account)
      if (!grant) {
        await store.setRefreshDue(account, null)
        continue
      }
      // The shared backoff holds the scheduler back too: it refreshes at retry_at, not before.
      const dueAt = grant.retryAt !== null && grant.retryAt > now ? grant.retryAt : dueAtFor(this.deps, grant)
      if (dueAt === null || dueAt > now) {
        await store.setRefreshDue(account, dueAt) // a stale entry: someone refreshed already, or it backs off
        continue
      }
      const inUse = this.active.get(grant.provider) ?? 0
      if (inUse >= this.options.perProviderConcurrency) continue
      this.active.set(grant.provider, inUse + 1)
      const want = { force: true, rejected: false, seenVersion: grant.version, minTtlMs: 0, ctx: { sub: 'scheduler' } }
      const work = this.refresher.refreshIfIdle(account, want)
        .catch(async (error: unknown) => {
          if (error instanceof ReauthenticationRequiredError || error instanceof AccountNotFoundError) return store.setRefreshDue(account, null)
          // A provider failure has re-queued the grant at its shared retry_at already; this covers the rest.
          if (error instanceof StoreUnavailableError) return store.setRefreshDue(account, clock() + this.options.retryDelayMs)
        })
        .catch(() => {})
        .finally(() => {
          this.active.set(grant.provider, (this.active.get(grant.provider) ?? 1) - 1)
          this.running.delete(work)
        })
      this.running.add(work)
      started.push(work)
    }
    await Promise.allSettled(started)
  }

  private schedule(): void {
    if (this.stopped) return
    const jitter = Math.floor(this.options.intervalMs * 0.2 * ((Date.now() % 97) / 97))
    this.timer = setTimeout(() => {
      this.tick().catch((error: unknown) => {
        this.warnThrottled((suppressed) => this.deps.log.warn(
          { err: { message: (error as Error).message }, suppressed }, 'proactive refresh tick failed'))
      }).finally(() => this.schedule())
    }, this.options.intervalMs + jitter)
    this.timer.unref()
  }
}
