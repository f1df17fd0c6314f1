import type { ClaimedJob, WebhookJob, WebhookQueue } from '../events/webhook-queue.js'

interface Queued {
  job: WebhookJob
  due: number
  attempts: number
}

/** The queue of the embedded store: same semantics as Redis, nothing survives a restart. */
export class MemoryWebhookQueue implements WebhookQueue {
  private readonly jobs = new Map<string, Queued>()

  async enqueue(jobs: WebhookJob[], now: number): Promise<void> {
    for (const job of jobs) this.jobs.set(job.id, { job: { ...job }, due: now, attempts: 0 })
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    // ZRANGEBYSCORE order: by due time, then by id.
    const due = [...this.jobs.values()]
      .filter((q) => q.due <= now)
      .sort((a, b) => a.due - b.due || (a.job.id < b.job.id ? -1 : a.job.id > b.job.id ? 1 : 0))
      .slice(0, limit)
    return due.map((q) => {
      q.due = now + leaseMs
      q.attempts++
      return { ...q.job, attempt: q.attempts }
    })
  }

  async complete(id: string): Promise<void> {
    this.jobs.delete(id)
  }

  async retryAt(id: string, at: number): Promise<void> {
    const queued = this.jobs.get(id)
    if (queued) queued.due = at
  }

  async size(): Promise<number> {
    return this.jobs.size
  }
}
