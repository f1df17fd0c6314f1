import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import { keySpace } from '../../src/store/keys.js'
import { MemoryAuditLog } from '../../src/store/memory-audit-log.js'
import { RedisAuditLog } from '../../src/store/redis-audit-log.js'
import { createRedisClient } from '../../src/store/redis-client.js'
import { startRedis } from '../helpers/redis-server.js'
import { auditContract } from './audit-contract.js'

const redis = await startRedis()
after(() => redis.dispose())

auditContract('memory', async (o) => ({ log: new MemoryAuditLog(o), cleanup: async () => {} }))

auditContract('Redis stream', async (o) => {
  const client = createRedisClient({ kind: 'standalone', url: redis.url }, 2000)
  await client.connect()
  const log = new RedisAuditLog(client, keySpace(`a${randomUUID()}:`), o)
  return {
    log,
    cleanup: async () => {
      await client.quit()
    },
  }
})
