/**
 * Per-provider circuit breaker: after `threshold` transient failures in a row the provider
 * is left alone for `coolDownMs`, then one trial call decides. Keeps an outage from
 * turning into a retry storm across every waiting request.
 */
export class CircuitBreaker {
  private failures = 0
  private openUntil = 0
  private trialInFlight = false

  constructor(private readonly clock: () => number, private readonly threshold = 5, private readonly coolDownMs = 15_000) {}

  /** Whether a call may go out now; in half-open state only one trial at a time. */
  allow(): boolean {
    if (this.failures < this.threshold) return true
    if (this.clock() < this.openUntil || this.trialInFlight) return false
    this.trialInFlight = true
    return true
  }

  /** Seconds until the breaker lets a trial through. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.openUntil - this.clock()) / 1000))
  }

  succeeded(): void {
    this.failures = 0
    this.trialInFlight = false
  }

  failed(): void {
    this.failures++
    this.trialInFlight = false
    if (this.failures >= this.threshold) this.openUntil = this.clock() + this.coolDownMs
  }
}
