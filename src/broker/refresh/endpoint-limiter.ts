/** Thrown when no slot for a provider call frees up in time: the caller answers 503 at once. */
export class ProviderBusyError extends Error {
  constructor() {
    super('too many refreshes are waiting for this provider')
    this.name = 'ProviderBusyError'
  }
}

/**
 * Caps concurrent calls to one token endpoint from this process (requests and scheduler
 * alike): 300 expired accounts at a slow provider open `limit` sockets, not 300. Callers
 * queue in order while the queue has room and their deadline allows.
 */
export class EndpointLimiter {
  private active = 0
  private readonly queue: { grant: () => void; timer: NodeJS.Timeout }[] = []

  constructor(
    readonly limit: number,
    private readonly maxQueued: number,
  ) {}

  /** Resolves with a release function once a slot is held; ProviderBusyError when none comes in time. */
  acquire(waitMs: number): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++
      return Promise.resolve(this.releaser())
    }
    if (this.queue.length >= this.maxQueued || waitMs <= 0) return Promise.reject(new ProviderBusyError())
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => resolve(this.releaser()),
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(entry), 1)
          reject(new ProviderBusyError())
        }, waitMs),
      }
      this.queue.push(entry)
    })
  }

  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.queue.shift()
      if (!next) {
        this.active--
        return
      }
      clearTimeout(next.timer)
      next.grant() // the slot passes straight to the next in line
    }
  }
}
