import { TokenBrokerError } from './errors.js'

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number
  /** Date.now() value after which no retry starts. */
  deadline: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs `attempt`, and again after a 503 (provider or store unavailable) once the answer's
 * Retry-After has passed, as long as retries remain and the wait ends before the deadline.
 * Anything else, a 429 included, is thrown at once: its Retry-After is the caller's to honour.
 */
export async function withRetries<T>(attempt: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt()
    } catch (error) {
      if (!(error instanceof TokenBrokerError) || error.status !== 503 || retry >= policy.maxRetries) throw error
      const waitMs = Math.max(1, error.retryAfter ?? 1) * 1000
      if (Date.now() + waitMs >= policy.deadline) throw error
      await sleep(waitMs)
    }
  }
}
