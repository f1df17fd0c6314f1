/** A hit moves its entry to the most recent end at most this often (the hot path hits the same keys again and again). */
const TOUCH_EVERY_MS = 1000

/**
 * A bounded map that forgets its least recently used entry first. A Map keeps insertion
 * order, so a hit is moved to the end by deleting and re-inserting it, and the oldest is the
 * first key; recency is kept to the second (a hit within a second of the last move stays put).
 * Each entry carries its own deadline; an expired one reads as absent.
 */
export class Lru<V> {
  private readonly entries = new Map<string, { value: V; until: number; touched: number }>()

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.until <= now) {
      this.entries.delete(key)
      return undefined
    }
    if (now - entry.touched >= TOUCH_EVERY_MS) {
      entry.touched = now
      this.entries.delete(key)
      this.entries.set(key, entry)
    }
    return entry.value
  }

  set(key: string, value: V, until: number): void {
    if (this.capacity <= 0) return
    this.entries.delete(key)
    this.entries.set(key, { value, until, touched: Number.NEGATIVE_INFINITY })
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!)
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }
}
