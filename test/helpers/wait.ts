import type { Store } from '../../src/store/store.js'

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `probe` until it returns something other than undefined, or fails at the deadline
 * with `what` and the last error the probe threw.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 20 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await pause(intervalMs)
  }
}

/** Resolves with the promise's outcome, or rejects when it has not settled by the deadline. */
export async function within<T>(what: string, work: Promise<T>, timeoutMs = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Records every change event; `until` waits for one matching (account, version). */
export function recordChanges(store: Store) {
  const seen: [string, number][] = []
  const waiters = new Set<() => void>()
  const stop = store.onGrantChanged((account, version) => {
    seen.push([account, version])
    for (const wake of waiters) wake()
  })
  return {
    seen,
    of: (account: string) => seen.filter(([a]) => a === account).map(([, v]) => v),
    stop,
    async until(account: string, version: number, timeoutMs = 5_000): Promise<void> {
      const found = () => seen.some(([a, v]) => a === account && v === version)
      if (found()) return
      let wake!: () => void
      const arrived = new Promise<void>((resolve) => {
        wake = () => {
          if (found()) resolve()
        }
      })
      waiters.add(wake)
      try {
        await within(`change event (${account}, ${version}); seen ${JSON.stringify(seen)}`, arrived, timeoutMs)
      } finally {
        waiters.delete(wake)
      }
    },
  }
}

/** Waits until `ms` of real time have passed since `since` (for TTLs that have no fake clock). */
export async function realTimePassed(since: number, ms: number): Promise<void> {
  while (Date.now() < since + ms) await pause(Math.max(1, since + ms - Date.now()))
}

/** Polls a yes/no condition until it holds, or fails at the deadline with `what`. */
export async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  await waitFor(what, async () => ((await condition()) ? true : undefined), { timeoutMs })
}
