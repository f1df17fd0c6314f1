import type { Redis } from 'ioredis'
// `npm run bench` starts the same throw-away redis-server: it lives in scripts/support/.
export * from '../../scripts/support/redis-server.js'

/**
 * How many read events the server behind `client` has handled (`INFO stats`
 * total_reads_processed): one per batch of commands that arrived together, whatever their
 * number. The count includes the read of this INFO command itself; keep `client` open between
 * two counts (a closing connection is a read event too).
 */
export async function readEvents(client: Redis): Promise<number> {
  const stats = await client.info('stats')
  return Number(/total_reads_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN)
}
