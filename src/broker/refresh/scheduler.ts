import { AccountNotFoundError, ReauthenticationRequiredError, StoreUnavailableError } from '../../errors.js'
import { throttled } from '../../log-throttle.js'
import type { BrokerDeps } from '../deps.js'
import type { GrantRecord } from '../../store/store.js'
import type { Refresher } from './refresher.js'
import { dueAtFor } from './policy.js'

export interface SchedulerOptions {
  /** Pause between passes over the due index when nothing is waiting. */
  intervalMs: number
  /** Due accounts taken per pass. */
  batch: number
  /**
   * Proactive refreshes running at once per provider, in this instance; by default three
   * quarters of PROVIDER_CONCURRENCY: the scheduler does the work callers would otherwise wait
   * for, and a quarter of the endpoint's slots stays free for callers' own refreshes.
   */
  perProviderConcurrency?: number
  /** Delay before a grant whose proactive refresh failed for a reason without a shared backoff (store away) is tried again. */
  retryDelayMs: number
}

export const DEFAULT_SCHEDULER: SchedulerOptions = { intervalMs: 1000, batch: 200, retryDelayMs: 30_000 }

/**
 * With a backlog the next pass follows soon rather than after intervalMs: right after a slot
 * frees when every slot was taken, else after this pause (the accounts left may be held by
 * another instance, which a pass cannot hurry).
 */
const BACKLOG_PASS_DELAY_MS = 100
const FREED_SLOT_PASS_DELAY_MS = 5
/**
 * Without a backlog the next pass comes when the next grant falls due (looked up to
 * intervalMs ahead), not up to an interval later: a grant whose jitter is shorter than the
 * interval would otherwise enter its skew, where a caller's read waits on the provider,
 * before the scheduler got to it. Passes are at least this far apart.
 */
const MIN_PASS_SPACING_MS = 50

interface Pass {
  started: Promise<unknown>[]
  /** Due accounts were left for lack of a free slot, or the batch was full: more is waiting. */
  backlog: boolean
  /** Every slot of some provider was taken. */
  saturated: boolean
  /** When the next grant not yet due falls due, if within intervalMs. */
  nextDueAt: number | null
}

/**
 * Refreshes grants ahead of expiry so callers almost never wait on a provider. Each pass
 * reads the due index (sorted sets, no KEYS/SCAN) and the due grants in one round trip, and
 * refreshes each through the same lock and fenced commit as a request, skipping grants another
 * holder is on. Passes follow one another while there is a backlog: when every slot is taken
 * the next pass starts as soon as one frees, so a mass expiry is worked through at the
 * concurrency allowed, not a few grants a second. Instances take the due accounts in a
 * different random order, so they rarely contend for the same lock.
 */
export class RefreshScheduler {
  private timer: NodeJS.Timeout | null = null
  private readonly active = new Map<string, number>()
  /** Accounts this instance is refreshing now: still in the due index until their commit. */
  private readonly inFlight = new Set<string>()
  private readonly running = new Set<Promise<unknown>>()
  private stopped = true
  private readonly warnThrottled = throttled(60_000)
  private readonly perProvider: number

  constructor(
    private readonly deps: BrokerDeps,
    private readonly refresher: Refresher,
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER,
  ) {
    this.perProvider = options.perProviderConcurrency ?? Math.max(1, Math.floor((deps.settings.providerConcurrency * 3) / 4))
  }

  /** Starts passing over the due index, the first pass at once (grants may have come due while no instance ran). */
  start(): void {
    this.stopped = false
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await Promise.allSettled([...this.running])
  }

  /** One pass over the due index; resolves when the refreshes it started have finished. */
  async tick(): Promise<void> {
    await Promise.allSettled((await this.pass()).started)
  }

  private async pass(): Promise<Pass> {
    const { store, clock, metrics } = this.deps
    const now = clock()
    const listed = await store.listRefreshDue(now + this.options.intervalMs, this.options.batch)
    const due = listed.filter((d) => d.dueAt <= now)
    const nextDueAt = due.length < listed.length ? listed[due.length]!.dueAt : null
    metrics.schedulerLag.set(due.length > 0 ? Math.max(0, (now - due[0]!.dueAt) / 1000) : 0)
    // Grants are read a few at a time, as many as there are free slots, until the slots are
    // full: with every slot taken a pass follows each freed slot, and reading a whole batch of
    // grants to start one refresh would cost more than the refreshes. Entries that turn out
    // stale (refreshed elsewhere) free their place for the next few.
    const waiting = shuffled(due.map((d) => d.account).filter((account) => !this.inFlight.has(account)))
    const started: Promise<unknown>[] = []
    let saturated = false
    let at = 0
    while (at < waiting.length && this.freeSlots() > 0) {
      const accounts = waiting.slice(at, at + this.freeSlots())
      at += accounts.length
      const grants = await store.getGrants(accounts)
      for (const [i, account] of accounts.entries()) {
        const outcome = await this.consider(account, grants[i] ?? null, now)
        if (outcome === 'saturated') saturated = true
        else if (outcome !== null) started.push(outcome.work)
      }
    }
    if (at < waiting.length && this.freeSlots() <= 0) saturated = true
    return { started, saturated, nextDueAt, backlog: saturated || at < waiting.length || due.length >= this.options.batch }
  }

  /** Starts the proactive refresh of one due account (`work`), or says why not: null (not due, gone) or 'saturated'. */
  private async consider(
    account: string,
    grant: GrantRecord | null,
    now: number,
  ): Promise<{ work: Promise<unknown> } | null | 'saturated'> {
    const { store, clock } = this.deps
    if (!grant) {
      await store.setRefreshDue(account, null)
      return null
    }
    // The shared backoff holds the scheduler back too: it refreshes at retry_at, not before.
    const dueAt = grant.retryAt !== null && grant.retryAt > now ? grant.retryAt : dueAtFor(this.deps, grant)
    if (dueAt === null || dueAt > now) {
      await store.setRefreshDue(account, dueAt) // a stale entry: someone refreshed already, or it backs off
      return null
    }
    const inUse = this.active.get(grant.provider) ?? 0
    if (inUse >= this.perProvider) return 'saturated'
    this.active.set(grant.provider, inUse + 1)
    this.inFlight.add(account)
    const want = { force: true, rejected: false, seenVersion: grant.version, minTtlMs: 0, ctx: { sub: 'scheduler' } }
    const work = this.refresher
      .refreshIfIdle(account, want)
      .catch(async (error: unknown) => {
        if (error instanceof ReauthenticationRequiredError || error instanceof AccountNotFoundError)
          return store.setRefreshDue(account, null)
        // A provider failure has re-queued the grant at its shared retry_at already; this covers the rest.
        if (error instanceof StoreUnavailableError) return store.setRefreshDue(account, clock() + this.options.retryDelayMs)
      })
      .catch(() => {})
      .finally(() => {
        this.active.set(grant.provider, (this.active.get(grant.provider) ?? 1) - 1)
        this.inFlight.delete(account)
        this.running.delete(work)
      })
    this.running.add(work)
    return { work }
  }

  /** Proactive refresh slots free in this instance, over every configured provider. */
  private freeSlots(): number {
    let inUse = 0
    for (const n of this.active.values()) inUse += n
    return this.perProvider * this.deps.providers.size - inUse
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.pump().catch(() => {})
    }, delayMs)
    this.timer.unref()
  }

  /** A pass, then the next: soon while there is a backlog (after a slot frees, when all are taken). */
  private async pump(): Promise<void> {
    let next = this.options.intervalMs + Math.floor(this.options.intervalMs * 0.2 * Math.random())
    try {
      const { backlog, saturated, nextDueAt } = await this.pass()
      if (saturated && this.running.size > 0) {
        await Promise.race(this.running)
        next = FREED_SLOT_PASS_DELAY_MS
      } else if (backlog) {
        next = BACKLOG_PASS_DELAY_MS
      } else if (nextDueAt !== null) {
        next = Math.min(next, Math.max(MIN_PASS_SPACING_MS, nextDueAt - this.deps.clock()))
      }
    } catch (error) {
      this.warnThrottled((suppressed) =>
        this.deps.log.warn({ err: { message: (error as Error).message }, suppressed }, 'proactive refresh pass failed'),
      )
    }
    this.schedule(next)
  }
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
