/**
 * Per token endpoint: trips when refreshes of several distinct accounts fail in a row (one
 * account's 429 or hang must not deny the others; that account has its own backoff), then
 * lets one trial call through after `baseMs`, doubling the wait while trials keep failing,
 * up to `maxMs`. Any success closes it, so tokens flow again as soon as the provider answers.
 */
export class CircuitBreaker {
  /** Accounts whose last call failed, with when; forgotten after a success or `windowMs`. */
  private readonly failing = new Map<string, number>()
  private openMs = 0
  private openUntil = 0
  private trialAccount: string | null = null

  constructor(
    private readonly clock: () => number,
    private readonly threshold = 3,
    private readonly baseMs = 1000,
    private readonly maxMs = 30_000,
    private readonly windowMs = 60_000,
  ) {}

  /** Whether a call for `account` may go out now; while open, one trial at a time. */
  allow(account: string): boolean {
    if (this.openMs === 0) return true
    if (this.clock() < this.openUntil || this.trialAccount !== null) return false
    this.trialAccount = account
    return true
  }

  /** Seconds until the breaker lets a trial through. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.openUntil - this.clock()) / 1000))
  }

  get isOpen(): boolean {
    return this.openMs > 0
  }

  succeeded(): void {
    this.failing.clear()
    this.openMs = 0
    this.trialAccount = null
  }

  failed(account: string): void {
    const now = this.clock()
    if (this.openMs > 0) {
      if (account !== this.trialAccount) return // a call that went out before the breaker opened
      this.trialAccount = null
      this.openMs = Math.min(this.maxMs, this.openMs * 2)
      this.openUntil = now + this.openMs
      return
    }
    for (const [key, at] of this.failing) if (now - at > this.windowMs) this.failing.delete(key)
    this.failing.set(account, now)
    if (this.failing.size >= this.threshold) {
      this.openMs = this.baseMs
      this.openUntil = now + this.openMs
    }
  }
}
