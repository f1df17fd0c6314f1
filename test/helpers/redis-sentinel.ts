/**
 * Test harness: a REAL Redis Sentinel setup on free loopback ports: one master, one replica
 * (`--replicaof` the master) and `sentinels` Sentinel processes monitoring the master as
 * `mymaster` (quorum 1, down after 1 s, failover timeout 5 s).
 *
 * - Every process is started through the standalone harness (startRedis): free port, its own
 *   temp dir, readiness by PING, the answering process checked to be ours, SIGKILL and temp
 *   dir removal on process exit. A Sentinel gets its sentinel.conf written to that temp dir
 *   and passed first (`redis-server <conf> --sentinel`); it rewrites it there.
 * - Readiness is polled with a deadline (no fixed sleeps): the replica is in sync
 *   (`master_link_status:up`), and every Sentinel reports the master
 *   (`SENTINEL get-master-addr-by-name`), knows the replica as a healthy replica (so a
 *   failover has a replica to promote) and, with several Sentinels, knows all the others.
 */
import { startRedis, withConnection, type RedisServer } from './redis-server.js'
import { waitFor } from './wait.js'

export interface SentinelAddress {
  host: string
  port: number
}

export interface RedisSentinel {
  /** `host:port,host:port`, the form REDIS_SENTINELS takes. */
  envSentinels: string
  /** The Sentinels' addresses, the form StoreConfig `{ kind: 'sentinel' }` takes. */
  sentinels: SentinelAddress[]
  /** The monitored master's name (REDIS_SENTINEL_NAME). */
  name: string
  /** The data nodes as started: after a failover `replica` is the master (see currentMaster). */
  master: RedisServer
  replica: RedisServer
  /** The Sentinel processes, for diagnostics (output()). */
  sentinelServers: RedisServer[]
  /** The master's port as every Sentinel reports it; rejects while they disagree. */
  masterPort(): Promise<number>
  /** The data node the Sentinels report as master. */
  currentMaster(): Promise<RedisServer>
  /**
   * `SENTINEL FAILOVER` on the first Sentinel (a forced failover: the replica is promoted),
   * then waits until every Sentinel reports the new master. Resolves with it.
   */
  failover(timeoutMs?: number): Promise<RedisServer>
  /**
   * Waits until the current master has a replica in sync that every Sentinel knows as a
   * healthy replica: after a failover, the demoted master reconfigured by Sentinel and
   * resynced, so another failover has a replica to promote.
   */
  replicaInSync(timeoutMs?: number): Promise<RedisServer>
  /** INFO `section` of the node on `port`, as a map. */
  info(port: number, section: string): Promise<Map<string, string>>
  /** Kills every process and removes the temp dirs. Idempotent. */
  stop(): Promise<void>
}

export interface StartRedisSentinelOptions {
  /** Number of Sentinel processes. Default 1. */
  sentinels?: number
  /** Deadline for the whole setup to become ready. Default 30 s. */
  timeoutMs?: number
}

const HOST = '127.0.0.1'
const NAME = 'mymaster'
const POLL_INTERVAL_MS = 50

const fields = (text: string): Map<string, string> =>
  new Map(
    text
      .split(/\r?\n/)
      .filter((l) => l.includes(':'))
      .map((l) => {
        const i = l.indexOf(':')
        return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string]
      }),
  )

/** A flat `[k1, v1, k2, v2, ...]` Sentinel reply as a map. */
const pairs = (flat: unknown): Map<string, string> => {
  const list = flat as string[]
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < list.length; i += 2) map.set(list[i]!, list[i + 1]!)
  return map
}

const sentinelConf =
  (masterPort: number) =>
  (port: number, dir: string): string =>
    [
      `port ${port}`,
      `bind ${HOST}`,
      `sentinel monitor ${NAME} ${HOST} ${masterPort} 1`,
      `sentinel down-after-milliseconds ${NAME} 1000`,
      `sentinel failover-timeout ${NAME} 5000`,
      'protected-mode no',
      `dir "${dir}"`,
      '',
    ].join('\n')

/** Polls `check` (null = ready, else why not) until ready or the deadline. */
async function until(what: string, deadline: number, check: () => Promise<string | null>): Promise<void> {
  await waitFor(
    what,
    async () => {
      const notReady = await check()
      if (notReady !== null) throw new Error(notReady)
      return true
    },
    { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: POLL_INTERVAL_MS },
  )
}

export async function startRedisSentinel(opts: StartRedisSentinelOptions = {}): Promise<RedisSentinel> {
  const count = opts.sentinels ?? 1
  const timeoutMs = opts.timeoutMs ?? 30_000
  if (count < 1) throw new Error('at least one Sentinel is needed')

  const started: RedisServer[] = []
  const sentinelServers: RedisServer[] = []
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    // Sentinels first: none may start a failover while the data nodes go away.
    await Promise.allSettled(sentinelServers.map((s) => s.dispose()))
    await Promise.allSettled(started.map((s) => s.dispose()))
  }

  try {
    const deadline = Date.now() + timeoutMs
    const master = await startRedis({ args: ['--repl-diskless-sync-delay', '0'] })
    started.push(master)
    const replica = await startRedis({ args: ['--replicaof', HOST, String(master.port)] })
    started.push(replica)
    const info = (port: number, section: string) => withConnection(port, async (c) => fields(await c.info(section)))

    // In sync before the Sentinels start: their first INFO of the master then lists the replica.
    await until('replica in sync', deadline, async () => {
      const link = (await info(replica.port, 'replication')).get('master_link_status')
      return link === 'up' ? null : `master_link_status ${link}`
    })

    // One at a time: ports chosen by freePort are only free until someone binds them.
    for (let i = 0; i < count; i++) {
      const sentinel = await startRedis({ config: sentinelConf(master.port), args: ['--sentinel'] })
      sentinelServers.push(sentinel)
    }
    const sentinels = sentinelServers.map((s) => ({ host: HOST, port: s.port }))

    /** Why the Sentinel on `port` does not (yet) know `replicaPort` as a healthy replica, or null. */
    const replicaUnknown = async (port: number, replicaPort: number): Promise<string | null> => {
      const replicas = (await withConnection(port, (c) => c.call('SENTINEL', 'replicas', NAME) as Promise<unknown[]>)).map(pairs)
      const known = replicas.find((r) => Number(r.get('port')) === replicaPort)
      if (known && known.get('flags') === 'slave' && known.get('master-link-status') === 'ok') return null
      return `sentinel ${port} sees replica ${replicaPort} as ${known ? `${known.get('flags')}, link ${known.get('master-link-status')}` : 'unknown'}`
    }
    const reported = (port: number) =>
      withConnection(port, (c) => c.call('SENTINEL', 'get-master-addr-by-name', NAME) as Promise<[string, string] | null>)
    await until('Sentinels', deadline, async () => {
      for (const { port } of sentinels) {
        const addr = await reported(port)
        if (!addr || addr[0] !== HOST || Number(addr[1]) !== master.port) return `sentinel ${port} reports ${JSON.stringify(addr)}`
        const unknown = await replicaUnknown(port, replica.port)
        if (unknown) return unknown
        const others = Number(pairs(await withConnection(port, (c) => c.call('SENTINEL', 'master', NAME))).get('num-other-sentinels'))
        if (others !== count - 1) return `sentinel ${port} knows ${others} of ${count - 1} other sentinels`
      }
      return null
    })

    const masterPort = async (): Promise<number> => {
      const ports = new Set(await Promise.all(sentinels.map(async ({ port }) => Number((await reported(port))?.[1]))))
      if (ports.size !== 1) throw new Error(`the sentinels disagree on the master: ${[...ports].join(', ')}`)
      return [...ports][0]!
    }
    const currentMaster = async (): Promise<RedisServer> => {
      const port = await masterPort()
      const server = started.find((s) => s.port === port)
      if (!server) throw new Error(`the sentinels report an unknown master on port ${port}`)
      return server
    }
    const failover = async (failoverTimeoutMs = 20_000): Promise<RedisServer> => {
      const old = await masterPort()
      // A Sentinel that has not yet seen the replica as healthy (its INFO is refreshed every few
      // seconds, later on a busy machine) answers NOGOODSLAVE: asked again until the deadline.
      await until('a replica the sentinel can promote', Date.now() + failoverTimeoutMs, async () => {
        try {
          await withConnection(sentinels[0]!.port, (c) => c.call('SENTINEL', 'failover', NAME))
          return null
        } catch (error) {
          if (String((error as Error).message).startsWith('NOGOODSLAVE')) return (error as Error).message
          throw error
        }
      })
      let promoted: RedisServer | undefined
      await until('failover', Date.now() + failoverTimeoutMs, async () => {
        const now = await currentMaster()
        if (now.port === old) return `still ${old}`
        promoted = now
        return null
      })
      return promoted!
    }

    const replicaInSync = async (syncTimeoutMs = 30_000): Promise<RedisServer> => {
      let synced: RedisServer | undefined
      await until('a replica in sync', Date.now() + syncTimeoutMs, async () => {
        const current = await currentMaster()
        const other = started.find((s) => s !== current)!
        const link = (await info(other.port, 'replication')).get('master_link_status')
        if (link !== 'up') return `${other.port}: master_link_status ${link}`
        for (const { port } of sentinels) {
          const unknown = await replicaUnknown(port, other.port)
          if (unknown) return unknown
        }
        synced = other
        return null
      })
      return synced!
    }

    return {
      envSentinels: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      sentinels,
      name: NAME,
      master,
      replica,
      sentinelServers,
      masterPort,
      currentMaster,
      failover,
      replicaInSync,
      info,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
