import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { MemoryWebhookQueue } from '../../src/store/memory-webhook-queue.js'
import { keySpace } from '../../src/store/keys.js'
import { RedisWebhookQueue } from '../../src/store/redis-webhook-queue.js'
import type { WebhookJob, WebhookQueue } from '../../src/events/webhook-queue.js'
import { createRedisClient } from '../../src/store/redis-client.js'
import { startRedis } from '../helpers/redis-server.js'

const redis = await startRedis()
after(() => redis.dispose())

const T0 = 1_700_000_000_000
const LEASE = 30_000
const job = (n: number, over: Partial<WebhookJob> = {}): WebhookJob => ({
  id: `job-${n}`,
  url: `https://hooks.example.test/${n}`,
  event: 'account.reauth_required',
  body: `{"n":${n},"t":"ü→"}`,
  ...over,
})

type Factory = () => Promise<{ queue: WebhookQueue; cleanup(): Promise<void> }>

function queueContract(name: string, make: Factory) {
  describe(`webhook queue contract: ${name}`, () => {
    const fixture = async (t: { after(fn: () => Promise<void>): void }) => {
      const f = await make()
      t.after(() => f.cleanup())
      return f.queue
    }

    test('claims due jobs in due order, leases them, and counts attempts', async (t) => {
      const q = await fixture(t)
      await q.enqueue([job(1), job(2)], T0)
      await q.enqueue([job(3)], T0 + 10)
      assert.deepEqual(await q.claim(T0 - 1, 10, LEASE), [], 'nothing is due before its time')
      const first = await q.claim(T0 + 10, 2, LEASE)
      assert.deepEqual(first, [
        { ...job(1), attempt: 1 },
        { ...job(2), attempt: 1 },
      ])
      assert.deepEqual(await q.claim(T0 + 10, 10, LEASE), [{ ...job(3), attempt: 1 }])
      assert.deepEqual(await q.claim(T0 + 20, 10, LEASE), [], 'leased jobs are not handed out twice')
      assert.equal(await q.size(), 3)
      // The worker died: after the lease the jobs come back, with the attempt counted.
      const again = await q.claim(T0 + 10 + LEASE, 10, LEASE)
      assert.deepEqual(
        again.map((j) => [j.id, j.attempt]),
        [
          ['job-1', 2],
          ['job-2', 2],
          ['job-3', 2],
        ],
      )
    })

    test('complete removes a job; retryAt reschedules it; a completed job is not brought back', async (t) => {
      const q = await fixture(t)
      await q.enqueue([job(1), job(2)], T0)
      const [a, b] = await q.claim(T0, 10, LEASE)
      await q.complete(a!.id)
      await q.retryAt(b!.id, T0 + 500)
      assert.equal(await q.size(), 1)
      assert.deepEqual(await q.claim(T0 + 499, 10, LEASE), [])
      assert.deepEqual(await q.claim(T0 + 500, 10, LEASE), [{ ...job(2), attempt: 2 }])
      await q.complete(b!.id)
      await q.retryAt(b!.id, T0 + 600)
      await q.retryAt('never-queued', T0)
      assert.equal(await q.size(), 0)
      assert.deepEqual(await q.claim(T0 + 10 * LEASE, 10, LEASE), [])
    })

    test('a job enqueued again under the same id restarts its count', async (t) => {
      const q = await fixture(t)
      await q.enqueue([job(7)], T0)
      await q.claim(T0, 1, LEASE)
      await q.complete('job-7')
      await q.enqueue([job(7)], T0 + 1)
      assert.deepEqual(await q.claim(T0 + 1, 1, LEASE), [{ ...job(7), attempt: 1 }])
    })
  })
}

queueContract('memory', async () => ({ queue: new MemoryWebhookQueue(), cleanup: async () => {} }))

queueContract('Redis', async () => {
  const client = createRedisClient({ kind: 'standalone', url: redis.url }, 2000)
  await client.connect()
  const queue = new RedisWebhookQueue(client, keySpace(`q${randomUUID()}:`))
  return {
    queue,
    cleanup: async () => {
      await client.quit()
    },
  }
})

test('Redis: every queue key shares one hash tag (the claim script stays in one Cluster slot)', () => {
  const keys = Object.values(keySpace('tb:').webhooks)
  assert.deepEqual(keys, ['tb:{webhooks}:jobs', 'tb:{webhooks}:due', 'tb:{webhooks}:attempts'])
})
