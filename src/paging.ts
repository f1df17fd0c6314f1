/**
 * One page of a filtered scan over an ordered sequence (accounts by id, audit entries by
 * time). Batches are read from a position; matching items are kept up to `limit`, and no more
 * than `budget` items are looked at, so a page whose filter drops most items comes back short
 * instead of scanning everything. The page ends at the last item looked at: the next page
 * starts just after it, so pages never skip or repeat an item. `last` is null when nothing
 * was looked at; `end` is true once the sequence is exhausted.
 */
export interface ScanSource<T, P> {
  /** Up to `count` items from `from` (the beginning when null), in order. */
  read(from: P | null, count: number): Promise<T[]>
  /** The position just after an item. */
  after(item: T): P
  keep(item: T): boolean
}

export interface ScanPage<T, P> {
  items: T[]
  last: P | null
  end: boolean
}

export async function scanPage<T, P>(source: ScanSource<T, P>, from: P | null, limit: number, budget: number): Promise<ScanPage<T, P>> {
  const items: T[] = []
  let position = from
  let last: P | null = null
  let scanned = 0
  while (scanned < budget && items.length < limit) {
    const count = Math.min(limit - items.length + 50, 500, budget - scanned)
    const batch = await source.read(position, count)
    let i = 0
    for (; i < batch.length && items.length < limit; i++) {
      const item = batch[i]!
      last = source.after(item)
      if (source.keep(item)) items.push(item)
    }
    scanned += i
    if (batch.length < count && i === batch.length) return { items, last, end: true }
    position = last
  }
  return { items, last, end: false }
}
