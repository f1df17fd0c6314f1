/**
 * The store contract. Two implementations (Redis and in-memory) pass the same test suite.
 * Token values arrive here already sealed: the store never sees plaintext.
 */
export type GrantStatus = 'active' | 'reauth_required'

export interface GrantRecord {
  provider: string
  status: GrantStatus
  /** Bumped by every write; the fence of compare-and-set commits. */
  version: number
  /** Random id of this grant's lineage: set by import/link, kept by refreshes. */
  grantId: string
  scope: string | null
  tokenType: string
  createdAt: number
  updatedAt: number
  refreshedAt: number | null
  /** Expiry of the current access token, epoch ms; null when the provider gave none. */
  expiresAt: number | null
  /** When the broker got the current access token (link, refresh or import), epoch ms: its lifetime starts here. */
  issuedAt: number | null
  /** Whether the current access token came from the provider to the broker (link, refresh), not from an import. */
  fromProvider: boolean
  /** Shared failure backoff: no instance calls the provider for this grant before this time (epoch ms). */
  retryAt: number | null
  /** Consecutive failed refresh rounds, the exponent of the backoff; 0 after a success. */
  failures: number
  accessToken: string | null
  refreshToken: string | null
  /** JSON `{ code, message, at }` of the last failure, or null. */
  lastError: string | null
  /** JSON object of non-secret provider metadata (e.g. instance_url). */
  meta: string | null
}

/**
 * The fields that decide whether and what the hot path serves: no refresh token, no
 * metadata, no history. Redis reads them with one HMGET (the serving view, the sealed token,
 * the version, the scope: record.ts).
 */
export type ServingGrant = Pick<
  GrantRecord,
  'provider' | 'status' | 'version' | 'scope' | 'tokenType' | 'expiresAt' | 'issuedAt' | 'fromProvider' | 'retryAt' | 'accessToken'
>

/** A whole grant written by import or link. */
export interface GrantWrite {
  provider: string
  grantId: string
  scope: string | null
  tokenType: string
  expiresAt: number | null
  accessToken: string | null
  refreshToken: string | null
  meta: string | null
  /** The tokens came from the provider (link), not from an import. */
  fromProvider: boolean
  /** Keep the stored refresh token when this write brings none (re-consent without one). */
  keepRefreshToken: boolean
}

export type GrantWriteOutcome = 'created' | 'replaced' | 'conflict'

/** The result of one refresh, written only if the grant is still at `expectedVersion`. */
export interface RefreshCommit {
  accessToken: string
  /** null keeps the stored refresh token (the provider sent none). */
  refreshToken: string | null
  expiresAt: number | null
  tokenType: string
  scope: string | null
  meta: string | null
}

/** A failed refresh round: why, and when the grant may be tried again. */
export interface RefreshFailure {
  /** JSON `{ code, message, at }`. */
  lastError: string
  retryAt: number
  failures: number
}

/** A grant's two sealed tokens; null = absent. */
export interface SealedTokens {
  accessToken: string | null
  refreshToken: string | null
}

/** Key rotation: the sealed tokens as read, and the same tokens sealed again (null = leave as is). */
export interface ResealWrite {
  from: SealedTokens
  to: SealedTokens
}

/** How far an unfinished `keys reseal` got: the next run resumes there, `keys status` shows it. */
export interface ResealProgress {
  /** The key id the values are being sealed with. */
  keyId: string
  /** The last account done. */
  cursor: string
  /** Accounts looked at and values resealed so far, over every run since the first. */
  accounts: number
  resealed: number
  /** Epoch ms. */
  startedAt: number
  updatedAt: number
}

/**
 * What became of rotated commits that waited for a replica (Redis with REDIS_WAIT_REPLICAS_MS):
 * `unreplicated` commits no replica acknowledged within the bound (their tokens were handed
 * out anyway); `reapplied` such commits written again after the connection moved to another
 * primary (a failover): present there now, or superseded (a newer write there, or a refresh
 * holding the account's lock there whose commit will be).
 */
export type DurabilityEvent = { kind: 'unreplicated'; commits: number } | { kind: 'reapplied'; present: number; superseded: number }

export interface Store {
  getGrant(account: string): Promise<GrantRecord | null>
  /** Only what the hot path needs (`ServingGrant`); null when there is no grant. */
  getServingGrant(account: string): Promise<ServingGrant | null>
  /** Several grants in one round trip (listing); missing ones are null. */
  getGrants(accounts: string[]): Promise<(GrantRecord | null)[]>
  writeGrant(account: string, write: GrantWrite, now: number): Promise<GrantWriteOutcome>
  /** Compare-and-set on version: false when the grant moved (or is gone) since it was read. */
  commitRefresh(account: string, expectedVersion: number, commit: RefreshCommit, now: number): Promise<boolean>
  /** Wipes the tokens and sets reauth_required; with an expected version, only if it still matches. */
  markReauthRequired(account: string, expectedVersion: number | null, lastError: string, now: number): Promise<boolean>
  /**
   * Records a failure that leaves the grant usable, with the backoff every instance honours;
   * only while the grant is still at `expectedVersion` (and without moving it).
   */
  recordFailure(account: string, expectedVersion: number, failure: RefreshFailure): Promise<boolean>
  /**
   * Key rotation: rewrites the sealed tokens, only while the grant is still at
   * `expectedVersion` and holds `from`. The version does not move and no change is announced
   * (the tokens are the same), so a refresh in flight still commits.
   */
  resealGrant(account: string, expectedVersion: number, reseal: ResealWrite): Promise<boolean>
  /** The progress of an unfinished reseal, or null. */
  getResealProgress(): Promise<ResealProgress | null>
  /** Records it after each batch; null once the walk is done. */
  setResealProgress(progress: ResealProgress | null): Promise<void>
  deleteGrant(account: string): Promise<boolean>
  /** Account ids in byte order, strictly after `after`. */
  listAccounts(after: string | null, limit: number): Promise<string[]>

  /** Sets (or with null clears) when the account's grant should be refreshed proactively. */
  setRefreshDue(account: string, dueAt: number | null): Promise<void>
  /** Accounts due at `now`, oldest first, with their due times. */
  listRefreshDue(now: number, limit: number): Promise<{ account: string; dueAt: number }[]>

  /** Owner-token lock: SET NX PX. */
  acquireLock(account: string, owner: string, ttlMs: number): Promise<boolean>
  /** Compare-and-extend: only the owner can. */
  extendLock(account: string, owner: string, ttlMs: number): Promise<boolean>
  /** Compare-and-delete: a release by anyone but the owner does nothing. */
  releaseLock(account: string, owner: string): Promise<boolean>

  putConnectState(state: string, sealed: string, ttlSeconds: number): Promise<void>
  /** Atomic get-and-delete: a state can be taken once. */
  takeConnectState(state: string): Promise<string | null>

  /** Called with (account, version) after every commit, wipe or delete, in any instance. */
  onGrantChanged(listener: (account: string, version: number) => void): () => void
  /** Whether change messages reach this instance now (always, in memory). */
  changesLive(): boolean
  /**
   * Called with false when the change subscription drops, and with true once it is back:
   * messages published in between were lost to this instance.
   */
  onChangesLive(listener: (live: boolean) => void): () => void

  /** Called with every durability event (never, in memory). */
  onDurability(listener: (event: DurabilityEvent) => void): () => void

  ping(): Promise<void>
  close(): Promise<void>
}
