import type { Registry } from 'prom-client'

type Labels = Record<string, string>

interface Series {
  labels: Labels
  /** Observations per bucket (not cumulative); the last bucket's upper bound is +Inf. */
  counts: Float64Array
  sum: number
  /** Exposed only when above 0: observed since the registry was last reset (prom-client's semantics). */
  count: number
}

export interface BoundSeries {
  observe(seconds: number): void
}

/**
 * A histogram for the request-duration metric, exposed through prom-client's registry in
 * prom-client's own format. prom-client's `Histogram.observe` checks the label names, hashes
 * the label set and updates buckets keyed by their bound's string on every call (about
 * 0.5 µs in a loop, 1 µs under load, on the hot path's every request; bench/README.md).
 * Here each label set is bound once (`labels`) and an observation is a bucket search and three
 * number updates; the cumulative buckets are built when the registry is read.
 */
export class DurationHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series = new Map<string, Series>()

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registers: Registry[],
  ) {
    // The registry reads a metric through get() / getForPromString() / reset() only.
    for (const registry of registers) registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0])
  }

  /** The series of this label set, made on first use and kept. */
  labels(labels: Labels): BoundSeries {
    const key = JSON.stringify(labels)
    let s = this.series.get(key)
    if (s === undefined) {
      s = { labels: { ...labels }, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }
      this.series.set(key, s)
    }
    const series = s
    const bounds = this.buckets
    return {
      observe(seconds: number): void {
        if (!Number.isFinite(seconds)) return // prom-client throws; a response must not fail on it
        let i = 0
        while (i < bounds.length && seconds > bounds[i]!) i++
        series.counts[i]!++
        series.sum += seconds
        series.count++
      },
    }
  }

  /** prom-client's exposition format: per series its cumulative buckets, +Inf, sum and count. */
  async getForPromString() {
    type Value = { labels: Record<string, string | number>; sharedLabels: Labels; value: number; metricName: string; exemplar?: null }
    const values: Value[] = []
    for (const s of this.series.values()) {
      if (s.count === 0) continue
      let cumulative = 0
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!
        const le = i < this.buckets.length ? this.buckets[i]! : '+Inf'
        values.push({ labels: { le }, sharedLabels: s.labels, value: cumulative, metricName: `${this.name}_bucket`, exemplar: null })
      }
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** The same values with each series' labels merged in (prom-client's JSON form). */
  async get() {
    const data = await this.getForPromString()
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    }
  }

  /** Every series back to zero and hidden until observed again; bound series stay valid. */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
    }
  }
}
