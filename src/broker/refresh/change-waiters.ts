import type { Store } from '../../store/store.js'

export interface ChangeWaiter {
  /** Resolves on a change of the account since registration, or after `ms`. */
  wait(ms: number): Promise<void>
  dispose(): void
}

/**
 * Wake-ups for requests waiting on another holder's refresh. A waiter is registered
 * before the caller re-reads the grant, so a commit between that read and the wait is
 * not missed: it marks the waiter signalled and the wait returns at once. One store
 * subscription serves every waiter of the process.
 */
export class ChangeWaiters {
  private readonly byAccount = new Map<string, Set<Entry>>()

  constructor(store: Store) {
    store.onGrantChanged((account) => {
      for (const entry of this.byAccount.get(account) ?? []) entry.signal()
    })
  }

  register(account: string): ChangeWaiter {
    const entry = new Entry()
    let set = this.byAccount.get(account)
    if (!set) {
      set = new Set()
      this.byAccount.set(account, set)
    }
    set.add(entry)
    return {
      wait: (ms) => entry.wait(ms),
      dispose: () => {
        entry.signal()
        set.delete(entry)
        if (set.size === 0 && this.byAccount.get(account) === set) this.byAccount.delete(account)
      },
    }
  }
}

class Entry {
  private signalled = false
  private wake: (() => void) | null = null

  signal(): void {
    this.signalled = true
    this.wake?.()
  }

  wait(ms: number): Promise<void> {
    if (this.signalled) {
      this.signalled = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        self.wake = null
        self.signalled = false
        resolve()
      }
      this.wake = done
    })
  }
}
