import { EventEmitter } from 'node:events'
import type {
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

interface Expiring {
  value: string
  expiresAt: number
}

const SWEEP_INTERVAL_MS = 60_000

/**
 * The embedded store: one process, nothing survives a restart. Same semantics as the
 * Redis store (the shared contract tests hold both to it); every operation is atomic
 * because it runs synchronously between awaits.
 */
export class MemoryStore implements Store {
  private readonly grants = new Map<string, GrantRecord>()
  private readonly locks = new Map<string, Expiring>()
  private readonly states = new Map<string, Expiring>()
  private readonly due = new Map<string, number>()
  private readonly changes = new EventEmitter().setMaxListeners(0)
  private resealProgress: ResealProgress | null = null
  private lastSweep = Number.NEGATIVE_INFINITY

  constructor(private readonly clock: () => number = Date.now) {}

  async getGrant(account: string): Promise<GrantRecord | null> {
    const grant = this.grants.get(account)
    return grant ? { ...grant } : null
  }

  getServingGrant(account: string): Promise<ServingGrant | null> {
    return this.getGrant(account)
  }

  async getGrants(accounts: string[]): Promise<(GrantRecord | null)[]> {
    return Promise.all(accounts.map((a) => this.getGrant(a)))
  }

  async writeGrant(account: string, w: GrantWrite, now: number): Promise<GrantWriteOutcome> {
    const current = this.grants.get(account)
    if (current && current.provider !== w.provider) return 'conflict'
    const refreshToken = w.refreshToken ?? (w.keepRefreshToken ? (current?.refreshToken ?? null) : null)
    this.grants.set(account, {
      provider: w.provider,
      status: 'active',
      version: (current?.version ?? 0) + 1,
      grantId: w.grantId,
      scope: w.scope,
      tokenType: w.tokenType,
      createdAt: current?.createdAt ?? now,
      updatedAt: now,
      refreshedAt: current?.refreshedAt ?? null,
      expiresAt: w.expiresAt,
      issuedAt: now,
      fromProvider: w.fromProvider,
      retryAt: null,
      failures: 0,
      accessToken: w.accessToken,
      refreshToken,
      lastError: null,
      meta: w.meta,
    })
    this.announce(account)
    return current ? 'replaced' : 'created'
  }

  async commitRefresh(account: string, expectedVersion: number, c: RefreshCommit, now: number): Promise<boolean> {
    const g = this.grants.get(account)
    if (!g) return false
    // A retried commit that was already applied (see the commit-refresh script).
    if (g.version === expectedVersion + 1 && g.accessToken === c.accessToken) return true
    if (g.version !== expectedVersion || g.status !== 'active') return false
    Object.assign(g, {
      accessToken: c.accessToken,
      refreshToken: c.refreshToken ?? g.refreshToken,
      expiresAt: c.expiresAt,
      tokenType: c.tokenType,
      scope: c.scope ?? g.scope,
      meta: c.meta ?? g.meta,
      lastError: null,
      updatedAt: now,
      refreshedAt: now,
      issuedAt: now,
      fromProvider: true,
      retryAt: null,
      failures: 0,
      version: g.version + 1,
    })
    this.announce(account)
    return true
  }

  async markReauthRequired(account: string, expectedVersion: number | null, lastError: string, now: number) {
    const g = this.grants.get(account)
    if (!g || (expectedVersion !== null && g.version !== expectedVersion)) return false
    Object.assign(g, {
      accessToken: null,
      refreshToken: null,
      expiresAt: null,
      retryAt: null,
      failures: 0,
      status: 'reauth_required',
      lastError,
      updatedAt: now,
      version: g.version + 1,
    })
    this.announce(account)
    return true
  }

  async recordFailure(account: string, expectedVersion: number, f: RefreshFailure): Promise<boolean> {
    const g = this.grants.get(account)
    if (!g || g.version !== expectedVersion || g.status !== 'active') return false
    Object.assign(g, { lastError: f.lastError, retryAt: f.retryAt, failures: f.failures })
    this.announce(account)
    return true
  }

  async resealGrant(account: string, expectedVersion: number, r: ResealWrite): Promise<boolean> {
    const g = this.grants.get(account)
    if (!g || g.version !== expectedVersion) return false
    if (g.accessToken !== r.from.accessToken || g.refreshToken !== r.from.refreshToken) return false
    g.accessToken = r.to.accessToken ?? g.accessToken
    g.refreshToken = r.to.refreshToken ?? g.refreshToken
    return true
  }

  async getResealProgress(): Promise<ResealProgress | null> {
    return this.resealProgress && { ...this.resealProgress }
  }

  async setResealProgress(progress: ResealProgress | null): Promise<void> {
    this.resealProgress = progress && { ...progress }
  }

  async deleteGrant(account: string): Promise<boolean> {
    const g = this.grants.get(account)
    if (!g) return false
    this.grants.delete(account)
    this.due.delete(account)
    this.announce(account, g.version + 1)
    return true
  }

  async listAccounts(after: string | null, limit: number): Promise<string[]> {
    // Byte order, as Redis ZRANGEBYLEX: ids are ASCII, so code-unit order is the same.
    const ids = [...this.grants.keys()].filter((id) => after === null || id > after).sort()
    return ids.slice(0, limit)
  }

  async setRefreshDue(account: string, dueAt: number | null): Promise<void> {
    if (dueAt === null) this.due.delete(account)
    else this.due.set(account, dueAt)
  }

  async listRefreshDue(now: number, limit: number): Promise<{ account: string; dueAt: number }[]> {
    return [...this.due]
      .filter(([, dueAt]) => dueAt <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([account, dueAt]) => ({ account, dueAt }))
  }

  async acquireLock(account: string, owner: string, ttlMs: number): Promise<boolean> {
    if (this.live(this.locks, account) !== null) return false
    this.locks.set(account, { value: owner, expiresAt: this.clock() + ttlMs })
    return true
  }

  async extendLock(account: string, owner: string, ttlMs: number): Promise<boolean> {
    if (this.live(this.locks, account) !== owner) return false
    this.locks.set(account, { value: owner, expiresAt: this.clock() + ttlMs })
    return true
  }

  async releaseLock(account: string, owner: string): Promise<boolean> {
    if (this.live(this.locks, account) !== owner) return false
    return this.locks.delete(account)
  }

  async putConnectState(state: string, sealed: string, ttlSeconds: number): Promise<void> {
    this.sweep()
    this.states.set(state, { value: sealed, expiresAt: this.clock() + ttlSeconds * 1000 })
  }

  /** Link states stored, expired ones not yet swept included (for tests and diagnostics). */
  get connectStateCount(): number {
    return this.states.size
  }

  async takeConnectState(state: string): Promise<string | null> {
    const value = this.live(this.states, state)
    this.states.delete(state)
    return value
  }

  onGrantChanged(listener: (account: string, version: number) => void): () => void {
    this.changes.on('change', listener)
    return () => this.changes.off('change', listener)
  }

  /** One process: no message can be lost. */
  changesLive(): boolean {
    return true
  }

  onChangesLive(): () => void {
    return () => {}
  }

  /** No replicas: nothing to report. */
  onDurability(): () => void {
    return () => {}
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.changes.removeAllListeners()
  }

  /** Queued like every other change, so listeners hear them in the order they were made. */
  private announce(account: string, version = this.grants.get(account)?.version ?? 0): void {
    queueMicrotask(() => this.changes.emit('change', account, version))
  }

  /**
   * Redis expires keys by itself; here abandoned links (and locks of accounts never touched
   * again) would stay forever. Each new link sweeps, at most once a minute.
   */
  private sweep(): void {
    const now = this.clock()
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return
    this.lastSweep = now
    for (const map of [this.states, this.locks]) {
      for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key)
    }
  }

  private live(map: Map<string, Expiring>, key: string): string | null {
    const entry = map.get(key)
    if (!entry) return null
    if (entry.expiresAt > this.clock()) return entry.value
    map.delete(key)
    return null
  }
}
