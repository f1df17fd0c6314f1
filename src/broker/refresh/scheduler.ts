import { throttled } from '../../log-throttle.js'
import type { BrokerDeps } from '../deps.js'
import type { Refresher } from './refresher.js'
import { refreshDueAt } from './schedule.js'

export interface SchedulerOptions {
  intervalMs: number
  /** Due accounts taken per tick. */
  batch: number
  /** Proactive refreshes running at once per provider, in this instance. */
  perProviderConcurrency: number
  /** Delay before a grant whose proactive refresh failed is tried again. */
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
      if (!grant || grant.status !== 'active' || !grant.refreshToken) {
        await store.setRefreshDue(account, null)
        continue
      }
      const dueAt = refreshDueAt(grant.expiresAt, this.deps.settings.refreshSkewSeconds, grant.refreshedAt ?? grant.updatedAt, account)
      if (dueAt === null || dueAt > now) {
        await store.setRefreshDue(account, dueAt) // a stale entry: someone refreshed already
        continue
      }
      const inUse = this.active.get(grant.provider) ?? 0
      if (inUse >= this.options.perProviderConcurrency) continue
      this.active.set(grant.provider, inUse + 1)
      const work = this.refresher.refreshIfIdle(account, { force: true, seenVersion: grant.version, minTtlMs: 0, ctx: { sub: 'scheduler' } })
        .catch(async (error: unknown) => {
          const code = (error as { code?: string }).code
          if (code === 'REAUTHENTICATION_REQUIRED' || code === 'ACCOUNT_NOT_FOUND') return store.setRefreshDue(account, null)
          return store.setRefreshDue(account, clock() + this.options.retryDelayMs)
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
