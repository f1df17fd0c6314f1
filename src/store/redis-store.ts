import { EventEmitter } from 'node:events'
import { Cluster } from 'ioredis'
import { writeCoalescer } from './coalesced-writes.js'
import { DurableCommits } from './durable-commits.js'
import { keySpace, type KeySpace } from './keys.js'
import { scripts } from './lua/index.js'
import { grantFromHash, SERVING_READ, servingFromRead } from './record.js'
import { storeCall } from './store-call.js'
import type { RedisClient } from './redis-client.js'
import type {
  DurabilityEvent,
  GrantRecord,
  GrantWrite,
  GrantWriteOutcome,
  RefreshCommit,
  RefreshFailure,
  ResealProgress,
  ResealWrite,
  Store,
  ServingGrant,
} from './store.js'

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>
type Scripted = Record<keyof typeof scripts, ScriptFn>

const opt = (v: string | number | null) => (v === null ? '' : String(v))

/** The store on Redis (standalone, Sentinel or Cluster: every script stays in one slot). */
export class RedisStore implements Store {
  private readonly keys: KeySpace
  private readonly run: Scripted
  private readonly changes = new EventEmitter().setMaxListeners(0)
  private subscriber: RedisClient | null = null
  /** Subscribed now: set once SUBSCRIBE is confirmed, cleared when the subscriber connection drops. */
  private subscribed = false
  /** The socket's own error ("connect ECONNREFUSED 127.0.0.1:6399"): ioredis rejects connect() with "Connection is closed." only. */
  private lastError: Error | null = null
  private readonly durable: DurableCommits | null
  /** Called before each hot-path read: the reads of one event-loop turn leave in one write. */
  private readonly coalesce: () => void

  /**
   * @param waitReplicasMs after a commit that rotated the refresh token, wait this long at
   *   most for one replica to acknowledge it (WAIT 1) before the new token is handed out; 0 = off.
   */
  constructor(
    readonly client: RedisClient,
    prefix: string,
    waitReplicasMs = 0,
  ) {
    this.keys = keySpace(prefix)
    this.coalesce = writeCoalescer(client)
    this.durable =
      waitReplicasMs > 0 ? new DurableCommits(client, waitReplicasMs, this.keys.lock, (e) => this.changes.emit('durability', e)) : null
    // Without a listener ioredis prints every failed reconnect, stack included, to stderr.
    // Calls fail with STORE_UNAVAILABLE and readiness reports the outage instead.
    client.on('error', (error: Error) => {
      this.lastError = error
    })
    for (const [name, script] of Object.entries(scripts)) client.defineCommand(name, script)
    this.run = client as unknown as Scripted
  }

  /**
   * Connects the command client; resolves when it is ready, rejects when Redis is away (it
   * keeps reconnecting). The change subscriber starts first and on its own: it subscribes
   * whenever Redis is reachable, so an instance started during an outage still hears every
   * change once Redis is back.
   */
  async connect(): Promise<void> {
    const subscribed = this.startSubscriber()
    const durable = this.durable?.client.connect().catch(() => {
      /* keeps trying; commits fail and are retried meanwhile */
    })
    try {
      await this.client.connect()
    } catch (error) {
      throw new Error(`cannot connect to Redis: ${(this.lastError ?? (error as Error)).message}`, { cause: error })
    }
    await durable
    for (const client of [this.client, this.durable?.client]) if (client instanceof Cluster) await openNodeConnections(client)
    await subscribed // Redis is up: no change is missed from here on
  }

  private startSubscriber(): Promise<unknown> {
    if (this.subscriber) return Promise.resolve()
    // Queue and retry the SUBSCRIBE until it goes through; ioredis re-subscribes after reconnects.
    const subscriber =
      this.client instanceof Cluster
        ? this.client.duplicate(undefined, {
            enableOfflineQueue: true,
            redisOptions: { ...this.client.options.redisOptions, maxRetriesPerRequest: null },
          })
        : this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null })
    this.subscriber = subscriber
    subscriber.on('error', () => {
      /* reconnects by itself; readiness reports the outage */
    })
    const subscribe = () => subscriber.subscribe(this.keys.changedChannel).then(() => this.setSubscribed(true))
    // ioredis re-subscribes on reconnect; our own SUBSCRIBE after 'ready' is answered after its
    // one, so its reply means messages flow again.
    subscriber.on('ready', () => {
      if (this.subscriber === subscriber) subscribe().catch(() => {})
    })
    for (const gone of ['close', 'reconnecting', 'end']) subscriber.on(gone, () => this.setSubscribed(false))
    subscriber.on('message', (_channel: string, message: string) => {
      const space = message.lastIndexOf(' ')
      this.changes.emit('change', message.slice(0, space), Number(message.slice(space + 1)))
    })
    return subscribe().catch(() => {
      /* closed before it went through */
    })
  }

  private setSubscribed(live: boolean): void {
    if (this.subscribed === live) return
    this.subscribed = live
    this.changes.emit('live', live)
  }

  getGrant(account: string): Promise<GrantRecord | null> {
    return storeCall(this.client.hgetall(this.keys.grant(account)).then(grantFromHash))
  }

  getServingGrant(account: string): Promise<ServingGrant | null> {
    const key = this.keys.grant(account)
    this.coalesce()
    return storeCall(
      this.client.hmget(key, ...SERVING_READ).then((read) => {
        const grant = servingFromRead(read)
        if (grant !== undefined) return grant
        return this.run.repackView(key).then((again) => (again ? (servingFromRead(again as (string | null)[]) ?? null) : null))
      }),
    )
  }

  async getGrants(accounts: string[]): Promise<(GrantRecord | null)[]> {
    return storeCall(Promise.all(accounts.map((a) => this.client.hgetall(this.keys.grant(a)).then(grantFromHash))))
  }

  async writeGrant(account: string, w: GrantWrite, now: number): Promise<GrantWriteOutcome> {
    const outcome = (await storeCall(
      this.run.writeGrant(
        this.keys.grant(account),
        w.provider,
        now,
        opt(w.scope),
        w.tokenType,
        opt(w.expiresAt),
        opt(w.accessToken),
        opt(w.refreshToken),
        opt(w.meta),
        w.keepRefreshToken ? '1' : '0',
        this.keys.changedChannel,
        account,
        w.grantId,
        w.fromProvider ? 'p' : 'i',
      ),
    )) as GrantWriteOutcome
    if (outcome !== 'conflict') await storeCall(this.client.zadd(this.keys.accounts, 0, account))
    return outcome
  }

  async commitRefresh(account: string, expectedVersion: number, c: RefreshCommit, now: number): Promise<boolean> {
    const args = [
      this.keys.grant(account),
      expectedVersion,
      now,
      c.accessToken,
      opt(c.refreshToken),
      opt(c.expiresAt),
      c.tokenType,
      opt(c.scope),
      opt(c.meta),
      this.keys.changedChannel,
      account,
    ]
    // A rotated refresh token exists nowhere but here once the provider dropped its parent.
    if (c.refreshToken !== null && this.durable) return (await this.durable.commit(account, args)) > 0
    return Number(await storeCall(this.run.commitRefresh(...args))) > 0
  }

  async markReauthRequired(account: string, expectedVersion: number | null, lastError: string, now: number) {
    const marked = await storeCall(
      this.run.markReauth(this.keys.grant(account), opt(expectedVersion), lastError, now, this.keys.changedChannel, account),
    )
    return marked === 1
  }

  async recordFailure(account: string, expectedVersion: number, f: RefreshFailure): Promise<boolean> {
    const recorded = await storeCall(
      this.run.recordFailure(
        this.keys.grant(account),
        expectedVersion,
        f.lastError,
        f.retryAt,
        f.failures,
        this.keys.changedChannel,
        account,
      ),
    )
    return recorded === 1
  }

  async resealGrant(account: string, expectedVersion: number, r: ResealWrite): Promise<boolean> {
    const rewritten = await storeCall(
      this.run.resealGrant(
        this.keys.grant(account),
        expectedVersion,
        opt(r.from.accessToken),
        opt(r.from.refreshToken),
        opt(r.to.accessToken),
        opt(r.to.refreshToken),
      ),
    )
    return rewritten === 1
  }

  async getResealProgress(): Promise<ResealProgress | null> {
    const h = await storeCall(this.client.hgetall(this.keys.resealProgress))
    if (h.key_id === undefined || h.cursor === undefined) return null
    return {
      keyId: h.key_id,
      cursor: h.cursor,
      accounts: Number(h.accounts ?? 0),
      resealed: Number(h.resealed ?? 0),
      startedAt: Number(h.started_at ?? 0),
      updatedAt: Number(h.updated_at ?? 0),
    }
  }

  async setResealProgress(p: ResealProgress | null): Promise<void> {
    const key = this.keys.resealProgress
    if (p === null) await storeCall(this.client.del(key))
    else
      await storeCall(
        this.client.hset(key, {
          key_id: p.keyId,
          cursor: p.cursor,
          accounts: p.accounts,
          resealed: p.resealed,
          started_at: p.startedAt,
          updated_at: p.updatedAt,
        }),
      )
  }

  async deleteGrant(account: string): Promise<boolean> {
    const deleted = await storeCall(this.run.deleteGrant(this.keys.grant(account), this.keys.changedChannel, account))
    await storeCall(Promise.all([this.client.zrem(this.keys.accounts, account), this.setRefreshDue(account, null)]))
    return deleted === 1
  }

  listAccounts(after: string | null, limit: number): Promise<string[]> {
    return storeCall(this.client.zrangebylex(this.keys.accounts, after === null ? '-' : `(${after}`, '+', 'LIMIT', 0, limit))
  }

  async setRefreshDue(account: string, dueAt: number | null): Promise<void> {
    const key = this.keys.refreshDue(account)
    await storeCall(dueAt === null ? this.client.zrem(key, account) : this.client.zadd(key, dueAt, account))
  }

  async listRefreshDue(now: number, limit: number): Promise<{ account: string; dueAt: number }[]> {
    const shards = await storeCall(
      Promise.all(this.keys.refreshDueShards.map((key) => this.client.zrangebyscore(key, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit))),
    )
    const due: { account: string; dueAt: number }[] = []
    for (const flat of shards) {
      for (let i = 0; i < flat.length; i += 2) due.push({ account: flat[i]!, dueAt: Number(flat[i + 1]) })
    }
    return due.sort((a, b) => a.dueAt - b.dueAt).slice(0, limit)
  }

  async acquireLock(account: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await storeCall(this.client.set(this.keys.lock(account), owner, 'PX', ttlMs, 'NX'))) === 'OK'
  }

  async extendLock(account: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await storeCall(this.run.extendLock(this.keys.lock(account), owner, ttlMs))) === 1
  }

  async releaseLock(account: string, owner: string): Promise<boolean> {
    return (await storeCall(this.run.releaseLock(this.keys.lock(account), owner))) === 1
  }

  async putConnectState(state: string, sealed: string, ttlSeconds: number): Promise<void> {
    await storeCall(this.client.set(this.keys.connectState(state), sealed, 'EX', ttlSeconds))
  }

  takeConnectState(state: string): Promise<string | null> {
    return storeCall(this.client.getdel(this.keys.connectState(state)))
  }

  onGrantChanged(listener: (account: string, version: number) => void): () => void {
    this.changes.on('change', listener)
    return () => this.changes.off('change', listener)
  }

  changesLive(): boolean {
    return this.subscribed
  }

  onChangesLive(listener: (live: boolean) => void): () => void {
    this.changes.on('live', listener)
    return () => this.changes.off('live', listener)
  }

  onDurability(listener: (event: DurabilityEvent) => void): () => void {
    this.changes.on('durability', listener)
    return () => this.changes.off('durability', listener)
  }

  async ping(): Promise<void> {
    await storeCall(this.client.ping())
  }

  async close(): Promise<void> {
    this.changes.removeAllListeners()
    this.subscribed = false
    // The subscriber queues commands while Redis is away, so a QUIT could wait forever: just drop it.
    this.subscriber?.disconnect()
    this.durable?.close()
    await this.client.quit().catch(() => {})
    this.client.disconnect()
  }
}

/**
 * ioredis opens a Cluster's node connections lazily, on first use. Without the offline queue
 * (fail fast) it refuses a command for a node whose connection is still opening ("Connection
 * is closed.") and retries it 100 ms later through another node and a MOVED: the first calls
 * after start-up would be slow and could apply out of call order. So every node's connection
 * is opened before the store is used. A node that cannot be reached fails its own calls later.
 */
async function openNodeConnections(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.nodes('master').map((node) => (node.status === 'wait' ? node.connect().catch(() => {}) : undefined)))
}
