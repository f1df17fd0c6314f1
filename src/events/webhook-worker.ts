import { randomInt } from 'node:crypto'
import type { Logger } from 'pino'
import type { ClaimedJob, WebhookQueue } from './webhook-queue.js'
import { signWebhook } from './webhook-signature.js'
import { throttled } from '../log-throttle.js'

export interface WebhookWorkerOptions {
  /** Pause between polls of the queue. */
  intervalMs: number
  /** Deliveries claimed (and sent concurrently) per tick. */
  batchSize: number
  /** A claimed job comes back after this long if its worker died; well above timeoutMs. */
  leaseMs: number
  /** Timeout of one POST. */
  timeoutMs: number
  /** After this many failed attempts the delivery is dropped (and logged). */
  maxAttempts: number
  /** Backoff before attempt n+1: about base * 2^(n-1), at most max, with jitter. */
  backoffBaseMs: number
  backoffMaxMs: number
}

/** 15 attempts, the last one 1.3 to 2.6 hours after the first (jitter). */
export const DEFAULT_WEBHOOK_OPTIONS: WebhookWorkerOptions = {
  intervalMs: 1000,
  batchSize: 16,
  leaseMs: 30_000,
  timeoutMs: 5000,
  maxAttempts: 15,
  backoffBaseMs: 2000,
  backoffMaxMs: 30 * 60_000,
}

export interface TickResult {
  delivered: number
  retried: number
  dropped: number
}

/** Delay before the next attempt: half fixed, half random (crypto), so receivers coming back are not stampeded. */
export function backoffMs(attempt: number, o: Pick<WebhookWorkerOptions, 'backoffBaseMs' | 'backoffMaxMs'>): number {
  const full = Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** Math.min(attempt - 1, 40))
  const half = Math.floor(full / 2)
  return half + randomInt(0, full - half + 1)
}

/**
 * Sends queued webhooks: claims due deliveries, POSTs each signed, completes the ones a
 * receiver took (2xx) and reschedules the rest with backoff. Every instance may run one;
 * the claim is atomic, so a delivery is sent by one worker at a time.
 */
export class WebhookWorker {
  private readonly options: WebhookWorkerOptions
  private timer: NodeJS.Timeout | null = null
  private running = false
  private readonly warnThrottled = throttled(60_000)
  private current: Promise<TickResult> | null = null

  constructor(
    private readonly queue: WebhookQueue,
    /** The receiver's own secret (WEBHOOK_URLS `url|secret`), else WEBHOOK_SECRET; null: none configured any more. */
    private readonly secretFor: (url: string) => string | null,
    private readonly log: Logger,
    options: Partial<WebhookWorkerOptions> = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_WEBHOOK_OPTIONS, ...options }
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.schedule(0)
  }

  /** Stops polling and waits for the deliveries in flight (each bounded by timeoutMs). */
  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.current?.catch(() => {})
  }

  /** Deliveries waiting or in flight. */
  backlog(): Promise<number> {
    return this.queue.size()
  }

  /** One round: claim what is due and deliver it. Concurrent calls share the round in flight. */
  tick(): Promise<TickResult> {
    this.current ??= this.round().finally(() => {
      this.current = null
    })
    return this.current
  }

  private schedule(delayMs: number): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.tick().then(
        (r) => this.schedule(r.delivered + r.retried + r.dropped >= this.options.batchSize ? 0 : this.pause()),
        (error: unknown) => {
          this.warnThrottled((suppressed) =>
            this.log.warn({ err: { message: (error as Error).message }, suppressed }, 'webhook queue unavailable; retrying'),
          )
          this.schedule(this.pause())
        },
      )
    }, delayMs)
    this.timer.unref()
  }

  private pause(): number {
    const { intervalMs } = this.options
    return intervalMs + randomInt(0, Math.max(1, Math.floor(intervalMs / 5)))
  }

  private async round(): Promise<TickResult> {
    const { batchSize, leaseMs } = this.options
    const jobs = await this.queue.claim(this.clock(), batchSize, leaseMs)
    const result: TickResult = { delivered: 0, retried: 0, dropped: 0 }
    const outcomes = await Promise.allSettled(jobs.map((job) => this.deliver(job)))
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') result[outcome.value]++
    // A delivery whose completion could not be stored is sent again after its lease: at least once.
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed) throw failed.reason
    return result
  }

  private async deliver(job: ClaimedJob): Promise<keyof TickResult> {
    const where = { delivery: job.id, event: job.event, target: origin(job.url), attempt: job.attempt }
    const secret = this.secretFor(job.url)
    if (secret === null) {
      // Queued before a restart that removed this receiver (and the shared secret): nothing to sign with.
      await this.queue.complete(job.id)
      this.log.error(where, 'webhook dropped: no secret is configured for its receiver any more')
      return 'dropped'
    }
    const failure = await this.post(job, secret)
    if (failure === null) {
      await this.queue.complete(job.id)
      this.log.debug(where, 'webhook delivered')
      return 'delivered'
    }
    if (job.attempt >= this.options.maxAttempts) {
      await this.queue.complete(job.id)
      this.log.error({ ...where, failure }, 'webhook dropped after its last attempt')
      return 'dropped'
    }
    const delay = backoffMs(job.attempt, this.options)
    await this.queue.retryAt(job.id, this.clock() + delay)
    this.log.warn({ ...where, failure, retry_in_ms: delay }, 'webhook delivery failed; will retry')
    return 'retried'
  }

  /** null when the receiver took it, else a short reason (never the body or the URL's path). */
  private async post(job: ClaimedJob, secret: string): Promise<string | null> {
    const timestamp = String(Math.floor(this.clock() / 1000))
    try {
      const res = await fetch(job.url, {
        method: 'POST',
        body: job.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'token-broker-webhooks',
          'x-token-broker-event': job.event,
          'x-token-broker-delivery': job.id,
          'x-token-broker-timestamp': timestamp,
          'x-token-broker-signature': signWebhook(secret, timestamp, job.body),
        },
      })
      await res.body?.cancel().catch(() => {})
      return res.status >= 200 && res.status < 300 ? null : `status ${res.status}`
    } catch (error) {
      return (error as Error).name === 'TimeoutError' ? 'timeout' : 'network error'
    }
  }
}

/** A webhook URL may carry a secret in its path or query (Slack-style): logs get the origin only. */
function origin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'invalid-url'
  }
}
