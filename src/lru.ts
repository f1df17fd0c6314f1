/**
 * A bounded map that forgets its least recently used entry first. A Map keeps insertion
 * order, so a hit is moved to the end by deleting and re-inserting it, and the oldest is the
 * first key. Each entry carries its own deadline; an expired one reads as absent.
 */
export class Lru<V> {
  private readonly entries = new Map<string, { value: V; until: number }>()

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    this.entries.delete(key)
    if (entry.until <= now) return undefined
    this.entries.set(key, entry)
    return entry.value
  }

  set(key: string, value: V, until: number): void {
    if (this.capacity <= 0) return
    this.entries.delete(key)
    this.entries.set(key, { value, until })
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!)
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }
}
