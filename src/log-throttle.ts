/**
 * For background loops that fail once a second during an outage: lets a message through
 * at most once per `intervalMs`, and says how many were held back meanwhile.
 */
export function throttled(intervalMs: number, now: () => number = Date.now) {
  let last = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return (emit: (suppressed: number) => void): void => {
    if (now() - last < intervalMs) {
      suppressed++
      return
    }
    last = now()
    emit(suppressed)
    suppressed = 0
  }
}
