import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import { MemoryAuditLog } from '../../src/events/memory-audit-log.js'
import { RedisAuditLog } from '../../src/events/redis-audit-log.js'
import { createRedisClient } from '../../src/store/redis-client.js'
import { startRedis } from '../helpers/redis-server.js'
import { auditContract } from './audit-contract.js'

const redis = await startRedis()
after(() => redis.dispose())

auditContract('memory', async (o) => ({ log: new MemoryAuditLog(o), cleanup: async () => {} }))

auditContract('Redis stream', async (o) => {
  const client = createRedisClient({ kind: 'standalone', url: redis.url }, 2000)
  await client.connect()
  const log = new RedisAuditLog(client, { prefix: `a${randomUUID()}:`, ...o })
  return { log, cleanup: async () => { await client.quit() } }
})
