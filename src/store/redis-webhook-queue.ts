import { claimWebhooks } from './lua/claim-webhooks.js'
import type { RedisClient } from './redis-client.js'
import type { KeySpace } from './keys.js'
import { storeCall } from './store-call.js'
import type { ClaimedJob, WebhookJob, WebhookQueue } from '../events/webhook-queue.js'

type Claim = (jobs: string, due: string, attempts: string, now: number, limit: number, leaseMs: number) => Promise<(string | number)[]>

/** The delivery queue on Redis: jobs survive a broker restart. */
export class RedisWebhookQueue implements WebhookQueue {
  private readonly keys: KeySpace['webhooks']
  private readonly claimScript: Claim

  constructor(
    private readonly client: RedisClient,
    keys: KeySpace,
  ) {
    this.keys = keys.webhooks
    client.defineCommand('claimWebhooks', claimWebhooks)
    this.claimScript = (client as unknown as { claimWebhooks: Claim }).claimWebhooks.bind(client)
  }

  async enqueue(jobs: WebhookJob[], now: number): Promise<void> {
    if (jobs.length === 0) return
    const tx = this.client.multi()
    for (const job of jobs) {
      tx.hset(this.keys.jobs, job.id, JSON.stringify({ url: job.url, event: job.event, body: job.body }))
      tx.zadd(this.keys.due, now, job.id)
    }
    await exec(tx)
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    const { jobs, due, attempts } = this.keys
    const flat = await storeCall(this.claimScript(jobs, due, attempts, now, limit, leaseMs))
    const claimed: ClaimedJob[] = []
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const stored = JSON.parse(String(flat[i + 1])) as Omit<WebhookJob, 'id'>
      claimed.push({ id: String(flat[i]), url: stored.url, event: stored.event, body: stored.body, attempt: Number(flat[i + 2]) })
    }
    return claimed
  }

  async complete(id: string): Promise<void> {
    await exec(this.client.multi().hdel(this.keys.jobs, id).hdel(this.keys.attempts, id).zrem(this.keys.due, id))
  }

  async retryAt(id: string, at: number): Promise<void> {
    // XX: a job completed meanwhile (by a worker whose lease had run out) is not brought back.
    await storeCall(this.client.zadd(this.keys.due, 'XX', at, id))
  }

  size(): Promise<number> {
    return storeCall(this.client.hlen(this.keys.jobs))
  }
}

/** Runs a MULTI; a command that failed inside it (EXEC reports those per command) fails the call too. */
async function exec(tx: ReturnType<RedisClient['multi']>): Promise<void> {
  const results = await storeCall(tx.exec())
  const failed = results?.find(([error]) => error)
  if (!results || failed) await storeCall(Promise.reject(failed?.[0] ?? new Error('transaction discarded')))
}
