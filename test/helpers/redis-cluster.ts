/**
 * Test harness: a REAL Redis Cluster of `masters` redis-server processes, each with
 * `replicas` replicas (default none), on free loopback ports, each in its own temp dir.
 *
 * - Every node is started through the standalone harness (startRedis): free port, its own
 *   temp dir, readiness by PING, the answering process checked to be ours, SIGKILL and
 *   temp dir removal on process exit.
 * - The cluster bus port is chosen freely too (`--cluster-port`, Redis 7): the default
 *   port + 10000 may be taken, or beyond 65535 for an ephemeral port.
 * - The slots are handed out by `redis-cli --cluster create`; readiness is polling every
 *   node until each one sees `cluster_state:ok`, all 16384 slots assigned, every node, and
 *   every replica in sync with its master (no fixed sleeps).
 * - With replicas, `killMasterOf` SIGKILLs a master and waits for its replica's failover;
 *   the killed node, started again (`server(port).start()`), rejoins as a replica.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { freePort, startRedis, withConnection, type RedisServer } from './redis-server.js'
import { waitFor } from './wait.js'

export interface ClusterNode {
  host: string
  port: number
}

export interface RedisCluster {
  /** Every node as started (with no replicas: the masters). */
  nodes: ClusterNode[]
  /** `host:port,host:port`, the form REDIS_CLUSTER_NODES takes. */
  envValue: string
  /** The node processes, for diagnostics (output()). */
  servers: RedisServer[]
  /** The port of the master serving `key`'s slot (CLUSTER KEYSLOT, CLUSTER SLOTS). */
  ownerOf(key: string): Promise<number>
  /** The keys matching `pattern` that the node on `port` itself holds (KEYS on that node alone). */
  keysOn(port: number, pattern: string): Promise<string[]>
  /** `perNode` ids (`stem-0`, `stem-1`, ...) for every master, by port: ids whose hash tag `{id}` is in that node's slots. */
  idsOnEveryNode(stem: string, perNode: number): Promise<Map<number, string[]>>
  /** The node process on `port`. */
  server(port: number): RedisServer
  /**
   * Waits until every running node reports `cluster_state:ok`, every slot is served by a
   * running master, and every other running node is a replica in sync with its master.
   */
  healthy(timeoutMs?: number): Promise<void>
  /**
   * SIGKILLs the master serving `key`'s slot and waits until a replica has taken the slot
   * over and the cluster is healthy again. Needs replicas.
   */
  killMasterOf(key: string, timeoutMs?: number): Promise<{ killed: number; promoted: number }>
  /** Kills every node and removes its temp dir. Idempotent. */
  stop(): Promise<void>
}

export interface StartRedisClusterOptions {
  /** Number of masters (Redis Cluster needs at least 3). Default 3. */
  masters?: number
  /** Replicas per master. Default 0. */
  replicas?: number
  /** Deadline for `--cluster create` and for the cluster to become ready. Default 30 s. */
  timeoutMs?: number
}

const HOST = '127.0.0.1'
const TOTAL_SLOTS = 16384
const POLL_INTERVAL_MS = 50
const MAX_NODE_ATTEMPTS = 5

// redis-cli children still running when the process exits are killed with it.
const liveCli = new Set<ChildProcess>()
let cleanupInstalled = false
function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', () => {
    for (const child of liveCli) {
      try {
        child.kill('SIGKILL')
      } catch {
        /* already gone */
      }
    }
  })
}

/** One cluster-enabled node; a bus port that turned out to be taken is retried with another. */
async function startNode(taken: Set<number>): Promise<RedisServer> {
  let lastError: unknown
  for (let attempt = 0; attempt < MAX_NODE_ATTEMPTS; attempt++) {
    let bus = await freePort()
    while (taken.has(bus)) bus = await freePort()
    try {
      const server = await startRedis({
        args: (port) => [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
          '--cluster-port',
          String(bus),
        ],
      })
      taken.add(server.port)
      taken.add(bus)
      return server
    } catch (error) {
      lastError = error
      if (!/already in use|served by another process/i.test(String(error))) break
    }
  }
  throw lastError
}

/** Runs `redis-cli` to completion; rejects on a non-zero exit or at the deadline. */
function redisCli(args: string[], timeoutMs: number): Promise<string> {
  installCleanup()
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    liveCli.add(child)
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      liveCli.delete(child)
      reject(new Error(`could not run redis-cli: ${error.message}`))
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      liveCli.delete(child)
      if (code === 0) resolve(out)
      else reject(new Error(`redis-cli ${args.join(' ')} failed (${signal ?? `code ${code}`}):\n${out}`))
    })
  })
}

/** CLUSTER INFO as a map. */
async function clusterInfo(port: number): Promise<Map<string, string>> {
  const text = await withConnection(port, (c) => c.cluster('INFO') as Promise<string>)
  return new Map(
    text
      .split(/\r?\n/)
      .filter((l) => l.includes(':'))
      .map((l) => {
        const i = l.indexOf(':')
        return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string]
      }),
  )
}

async function ownerOf(port: number, key: string): Promise<number> {
  return withConnection(port, async (c) => {
    const slot = (await c.cluster('KEYSLOT', key)) as number
    const ranges = (await c.cluster('SLOTS')) as unknown as [number, number, [string, number, ...unknown[]]][]
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)
    if (!range) throw new Error(`slot ${slot} (key ${key}) is served by no node`)
    return Number(range[2][1])
  })
}

/** One line of CLUSTER NODES. */
interface NodeLine {
  port: number
  role: 'master' | 'replica'
  failed: boolean
  slots: boolean
}

async function clusterNodes(port: number): Promise<NodeLine[]> {
  const text = await withConnection(port, (c) => c.cluster('NODES') as Promise<string>)
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [, address, flags, , , , , , ...slots] = line.split(' ')
      return {
        port: Number(/:(\d+)@/.exec(address!)![1]),
        role: flags!.includes('master') ? 'master' : 'replica',
        failed: /fail/.test(flags!),
        slots: slots.length > 0,
      } satisfies NodeLine
    })
}

/** Polls `check` (null = done, else why not) until done or the deadline. */
async function until(what: string, timeoutMs: number, check: () => Promise<string | null>): Promise<void> {
  await waitFor(
    what,
    async () => {
      const notYet = await check()
      if (notYet !== null) throw new Error(notYet)
      return true
    },
    { timeoutMs, intervalMs: POLL_INTERVAL_MS },
  )
}

export async function startRedisCluster(opts: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3
  const replicas = opts.replicas ?? 0
  const timeoutMs = opts.timeoutMs ?? 30_000
  if (masters < 3) throw new Error('Redis Cluster needs at least 3 masters')

  const servers: RedisServer[] = []
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await Promise.allSettled(servers.map((s) => s.dispose()))
  }

  try {
    const taken = new Set<number>()
    // One at a time: ports chosen by freePort are only free until someone binds them.
    for (let i = 0; i < masters * (1 + replicas); i++) servers.push(await startNode(taken))
    const nodes = servers.map((s) => ({ host: HOST, port: s.port }))
    const addresses = nodes.map((n) => `${n.host}:${n.port}`)
    const server = (port: number) => {
      const found = servers.find((s) => s.port === port)
      if (!found) throw new Error(`no cluster node on port ${port}`)
      return found
    }
    const anyRunning = () => {
      const live = servers.find((s) => s.running)
      if (!live) throw new Error('no cluster node is running')
      return live.port
    }

    await redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], timeoutMs)

    /** Why the cluster is not healthy yet, or null. */
    const notHealthy = async (): Promise<string | null> => {
      const running = servers.filter((s) => s.running)
      for (const { port } of running) {
        const info = await clusterInfo(port)
        const ok =
          info.get('cluster_state') === 'ok' &&
          Number(info.get('cluster_slots_assigned')) === TOTAL_SLOTS &&
          Number(info.get('cluster_slots_ok')) === TOTAL_SLOTS &&
          Number(info.get('cluster_known_nodes')) === servers.length &&
          Number(info.get('cluster_size')) === masters
        if (!ok)
          return `${port}: state ${info.get('cluster_state')}, slots ok ${info.get('cluster_slots_ok')}, known nodes ${info.get('cluster_known_nodes')}, size ${info.get('cluster_size')}`
        const self = (await clusterNodes(port)).find((n) => n.port === port)!
        if (self.role === 'master' && !self.slots) return `${port}: a master without slots`
        if (self.role === 'replica') {
          const link = (await withConnection(port, (c) => c.info('replication'))).match(/master_link_status:(\w+)/)?.[1]
          if (link !== 'up') return `${port}: replica link ${link}`
        }
      }
      const view = await clusterNodes(running[0]!.port)
      const servingDead = view.find((n) => n.role === 'master' && n.slots && !server(n.port).running)
      return servingDead ? `slots still served by the stopped node ${servingDead.port}` : null
    }
    const healthy = (ms = timeoutMs) => until('Redis Cluster healthy', ms, notHealthy)
    await healthy()

    const idsOnEveryNode = async (stem: string, perNode: number) => {
      const masterPorts = (await clusterNodes(anyRunning())).filter((n) => n.role === 'master' && n.slots).map((n) => n.port)
      const byNode = new Map<number, string[]>(masterPorts.map((port) => [port, []]))
      for (let i = 0; [...byNode.values()].some((ids) => ids.length < perNode); i++) {
        if (i >= 10_000) throw new Error(`no ${perNode} ids per node among ${stem}-0..${i - 1}`)
        const id = `${stem}-${i}`
        const ids = byNode.get(await ownerOf(anyRunning(), `{${id}}`))!
        if (ids.length < perNode) ids.push(id)
      }
      return byNode
    }
    const killMasterOf = async (key: string, ms = timeoutMs) => {
      const killed = await ownerOf(anyRunning(), key)
      await server(killed).kill()
      let promoted = killed
      await until(`a replica to take over from ${killed}`, ms, async () => {
        promoted = await ownerOf(anyRunning(), key)
        return promoted === killed ? 'not yet failed over' : notHealthy()
      })
      return { killed, promoted }
    }
    return {
      nodes,
      envValue: addresses.join(','),
      servers,
      stop,
      idsOnEveryNode,
      server,
      healthy,
      killMasterOf,
      ownerOf: (key) => ownerOf(anyRunning(), key),
      keysOn: (port, pattern) => withConnection(port, (c) => c.keys(pattern)),
    }
  } catch (error) {
    await stop()
    throw error
  }
}
