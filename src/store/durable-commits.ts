import { Cluster, type Redis } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'
import { keySlot } from './key-slot.js'
import { commitRefresh } from './lua/commit-refresh.js'
import { reapplyCommit } from './lua/reapply-commit.js'
import type { RedisClient } from './redis-client.js'
import type { DurabilityEvent } from './store.js'

type Args = (string | number)[]
type Scripted = { commitRefresh(...args: Args): Promise<unknown>; reapplyCommit(...args: Args): Promise<unknown> }
interface Waiting {
  account: string
  args: Args
  resolve(version: number): void
  reject(error: Error): void
}
interface Unacknowledged {
  args: Args
  lockKey: string
  address: string
  at: number
}

/** How long, and how many, commits no replica acknowledged are kept to be applied again after a failover. */
const KEEP_MS = 30_000
const KEEP_MAX = 10_000

/**
 * Rotated commits that wait for one replica (`WAIT 1 <ms>`) before their token is handed out.
 *
 * - WAIT blocks the connection it is sent on, so these commits have a connection of their
 *   own: a replica that lags never holds up reads and other writes.
 * - Commits that arrive while a WAIT is out go together in the next pipeline with one WAIT
 *   (per Cluster node): a lagging replica delays a rotation by at most twice the bound, and
 *   rotations never queue behind one another's WAIT.
 * - A commit no replica acknowledged is on the primary only. When a failover demoted that
 *   primary (Sentinel promotes the replica first; clients follow a moment later), the
 *   commit is lost with the demoted primary's unreplicated writes, while its token has been
 *   handed out. So it is kept until a replica acknowledges a later write of that primary
 *   (at most KEEP_MS), and applied again if the connection reaches another primary first
 *   (Sentinel, or standalone behind a moving address; not Cluster, where a failover after a
 *   crash ends the connection and fails the commit, which the broker then retries).
 *   The commit script is idempotent and fenced: where the commit survived, or a newer write
 *   replaced it, nothing changes; while another instance holds the account's refresh lock
 *   there, it is left to that refresh.
 */
export class DurableCommits {
  readonly client: RedisClient
  private readonly queues = new Map<string, Waiting[]>()
  private readonly flushing = new Set<string>()
  private readonly unacknowledged = new Map<string, Unacknowledged>()

  constructor(
    main: RedisClient,
    private readonly waitMs: number,
    private readonly lockKey: (account: string) => string,
    private readonly emit: (event: DurabilityEvent) => void,
  ) {
    this.client = main.duplicate()
    this.client.defineCommand('commitRefresh', commitRefresh)
    this.client.defineCommand('reapplyCommit', reapplyCommit)
    this.client.on('error', () => {
      /* reconnects by itself; the commit fails and is retried */
    })
    this.client.on('ready', () => {
      void this.reapply()
    })
  }

  /** The commit script's answer: the new version, or 0 when fenced off. */
  commit(account: string, args: Args): Promise<number> {
    return new Promise((resolve, reject) => {
      const node = this.client instanceof Cluster ? (this.client.slots[keySlot(account)]?.[0] ?? '') : ''
      const queue = this.queues.get(node) ?? []
      queue.push({ account, args, resolve, reject })
      this.queues.set(node, queue)
      if (!this.flushing.has(node)) void this.flush(node)
    })
  }

  private async flush(node: string): Promise<void> {
    this.flushing.add(node)
    try {
      for (let group = this.queues.get(node); group?.length; group = this.queues.get(node)) {
        this.queues.delete(node)
        await this.send(group)
      }
    } finally {
      this.flushing.delete(node)
    }
  }

  private async send(group: Waiting[]): Promise<void> {
    const pipeline = this.client.pipeline()
    for (const c of group) (pipeline as unknown as Scripted).commitRefresh(...c.args)
    pipeline.call('WAIT', 1, this.waitMs)
    const address = this.address()
    let replies: [Error | null, unknown][]
    try {
      replies = (await pipeline.exec()) ?? []
    } catch (cause) {
      for (const c of group) c.reject(new StoreUnavailableError({ cause }))
      return
    }
    // ioredis follows a MOVED inside a pipeline only when every command got it, never with
    // a WAIT that answered: after a Cluster failover, the slots are learnt again here.
    if (this.client instanceof Cluster && replies.some(([error]) => error)) this.client.refreshSlotsCache()
    const wait = replies[group.length]
    const acknowledged = wait !== undefined && wait[0] === null && Number(wait[1]) >= 1
    // A replica that acknowledged this group has every earlier write of that primary too.
    if (acknowledged) for (const [account, u] of this.unacknowledged) if (u.address === address) this.unacknowledged.delete(account)
    let unreplicated = 0
    for (const [i, c] of group.entries()) {
      const [error, version] = replies[i] ?? [new Error('no reply'), 0]
      if (error) {
        c.reject(new StoreUnavailableError({ cause: error }))
        continue
      }
      if (!acknowledged && Number(version) > 0) {
        unreplicated++
        this.remember(c, address)
      }
      c.resolve(Number(version))
    }
    if (unreplicated > 0) this.emit({ kind: 'unreplicated', commits: unreplicated })
  }

  /** The primary the connection is on now ('' on Cluster, or while it is down). */
  private address(): string {
    if (this.client instanceof Cluster) return ''
    const stream = (this.client as Redis).stream
    return stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : ''
  }

  private remember(c: Waiting, address: string): void {
    if (address === '') return
    this.unacknowledged.delete(c.account)
    this.unacknowledged.set(c.account, { args: c.args, lockKey: this.lockKey(c.account), address, at: Date.now() })
    // The connection may have moved on already (a WAIT resent after a reconnect answers from the new primary).
    if (this.address() !== address) void this.reapply()
  }

  private async reapply(): Promise<void> {
    const here = this.address()
    const tooOld = Date.now() - KEEP_MS
    for (const [account, u] of this.unacknowledged) {
      if (u.at >= tooOld && this.unacknowledged.size <= KEEP_MAX) break
      this.unacknowledged.delete(account)
    }
    const moved = [...this.unacknowledged].filter(([, u]) => u.address !== here)
    if (here === '' || moved.length === 0) return
    for (const [account] of moved) this.unacknowledged.delete(account)
    const run = this.client as unknown as Scripted
    const results = await Promise.allSettled(moved.map(([, u]) => run.reapplyCommit(u.args[0]!, u.lockKey, ...u.args.slice(1))))
    let present = 0
    let superseded = 0
    results.forEach((result, i) => {
      const [account, u] = moved[i]!
      if (result.status === 'rejected') this.unacknowledged.set(account, u)
      else if (Number(result.value) > 0) present++
      else superseded++
    })
    if (present + superseded > 0) this.emit({ kind: 'reapplied', present, superseded })
  }

  close(): void {
    this.client.disconnect()
  }
}
