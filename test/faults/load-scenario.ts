import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { SoakLedger } from '../../scripts/support/soak-ledger.js'
import { startSoakProvider } from '../../scripts/support/soak-provider.js'
import { TEST_JWT_SECRET, TEST_KEYS, testApp, type LogCapture } from '../helpers/app.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { writeProvidersFile } from '../helpers/providers-file.js'
import { waitFor } from '../helpers/wait.js'
import { everyAccountRefreshedSince, refreshRecord, type Duplicate } from './load-record.js'
import { Traffic, appInstance, processInstance, type Instance } from './load-traffic.js'

/**
 * Faults under load: broker instances on one Redis setup, a few dozen accounts whose
 * tokens live LIFETIME_MS at the soak's strictly rotating provider (with a reuse grace, so
 * a duplicate refresh shows up as an orphaned token instead of a dead grant), steady
 * callers, and faults injected one after another. After each fault: every account has
 * refreshed since it ended, and so far no caller got a superseded, revoked or expired
 * token, no refresh token was refused, no token was refreshed before its window or twice
 * (beyond what the fault's documented bound allows), and callers saw only 200 and 503.
 */
const LIFETIME_MS = 10_000
const GRACE_MS = 60_000
const ACCOUNTS = 30
const LANES = 6

export interface LoadOptions {
  /** REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES and their settings. */
  redisEnv: Record<string, string>
  /** Account ids (Cluster tests choose them per node); ACCOUNTS ids by default. */
  accounts?: string[]
  /** Extra environment of every instance. */
  env?: Record<string, string>
  /** Stops the Redis setup, after the callers and the instances have stopped. */
  stopRedis: () => Promise<void>
}

/** Provider and ledger for one scenario; brokers are added with inProcess and process. */
export async function loadScenario(t: TestContext, o: LoadOptions) {
  const provider = await startSoakProvider(LIFETIME_MS, GRACE_MS)
  const prefix = `load${Math.random().toString(36).slice(2, 8)}:`
  const env = (clientId: string): Record<string, string> => ({
    ...o.redisEnv,
    REDIS_KEY_PREFIX: prefix,
    ENCRYPTION_KEYS: TEST_KEYS,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    // Xero's template: rotating refresh tokens with a reuse grace, as the provider here has.
    PROVIDERS_FILE: writeProvidersFile({
      stub: {
        template: 'xero',
        authorization_url: `${provider.url}/authorize`,
        token_url: `${provider.url}/token`,
        client_id: clientId,
        client_secret: 'load-secret',
      },
    }),
    REFRESH_SKEW_SECONDS: String(LIFETIME_MS / 2000),
    RATE_LIMIT_PER_MINUTE: '0',
    PROVIDER_TIMEOUT_MS: '5000',
    ...o.env,
  })
  const accounts = o.accounts ?? Array.from({ length: ACCOUNTS }, (_, i) => `load-${i}`)
  const ledger = new SoakLedger(provider)
  const routed: Instance[] = []
  /** Each in-process instance's log lines, for the story behind a failed check. */
  const logs = new Map<string, LogCapture>()
  const warnings = () =>
    [...logs].flatMap(([name, capture]) =>
      capture.lines
        .filter((l) => /"level":[456]0/.test(l))
        .slice(-30)
        .map((l) => `${name}: ${l.slice(0, 400)}`),
    )
  /** What the provider issued to these accounts and what the instances logged about them. */
  const story = (accounts: string[]) =>
    [
      ...accounts.map((a) => `${a}: ${JSON.stringify(provider.current(a)?.issued.slice(-6))}`),
      ...[...logs].flatMap(([name, capture]) =>
        capture.lines.filter((l) => accounts.some((a) => l.includes(`"${a}"`)) || l.includes('primary')).map((l) => `${name}: ${l}`),
      ),
    ].join('\n')
  const traffic = new Traffic(ledger, accounts, () => routed)
  // One hook, in this order: node:test runs a test's after hooks in the order they were added.
  const closers: (() => Promise<unknown>)[] = [o.stopRedis, () => provider.close()]
  t.after(async () => {
    await traffic.stop()
    for (const close of closers.reverse()) await close()
  })
  /** Duplicates already judged by an earlier fault. */
  const judged = new Set<string>()

  return {
    provider,
    ledger,
    traffic,
    accounts,
    routed,

    /** A broker app in this process (the cheap kind of instance); its provider client id is `name`. */
    async inProcess(name: string): Promise<Instance> {
      const { app, logs: capture } = await testApp({ env: env(name) })
      logs.set(name, capture)
      closers.push(() => app.close())
      await app.storage.connect()
      const instance = appInstance(name, app)
      routed.push(instance)
      return instance
    },

    /** A broker child process (for signals); its provider client id is `name`. */
    async process(name: string) {
      const broker = await spawnBroker(env(name))
      closers.push(() => {
        broker.child.kill('SIGCONT')
        return broker.kill('SIGKILL')
      })
      const instance = processInstance(name, broker)
      routed.push(instance)
      return { broker, instance }
    },

    /** Links every account through `via` (tokens of staggered lifetimes), then starts the callers. */
    async start(via: Instance): Promise<void> {
      for (const [i, account] of accounts.entries()) {
        const { accessToken, refreshToken, lineage } = provider.link(account, Date.now())
        const expiresIn = Math.round(LIFETIME_MS / 2000 + ((i / accounts.length) * LIFETIME_MS) / 2000)
        const res = await via.call('PUT', `/accounts/${account}`, {
          provider: 'stub',
          access_token: accessToken,
          refresh_token: refreshToken,
          expires_in: expiresIn,
        })
        assert.equal(res?.status, 201, JSON.stringify(res?.json))
        provider.confirmLink(account, lineage, Date.now())
      }
      traffic.start(LANES)
    },

    /** Routes callers to the instance again (after a pause), or no longer (a health check failed). */
    route(instance: Instance, on: boolean): void {
      const at = routed.indexOf(instance)
      if (on && at < 0) routed.push(instance)
      if (!on && at >= 0) routed.splice(at, 1)
    },

    /**
     * Runs `act` when the provider is about to answer a refresh from `client` (the token not
     * issued yet), then lets the provider answer; resolves once `act` has run.
     */
    atProvider(client: string, act: () => Promise<void> | void): Promise<void> {
      return new Promise((resolve) => {
        provider.beforeAnswer = async (from) => {
          if (from !== client) return
          provider.beforeAnswer = null
          await act()
          resolve()
        }
      })
    },

    /** Waits until the provider has issued `count` tokens since `since` to clients other than `except`. */
    /** Waits until the other instances made `count` refreshes since `since`, or until `atMostMs` have passed since then. */
    async refreshedByOthers(except: string, since: number, count: number, atMostMs = Number.POSITIVE_INFINITY): Promise<void> {
      const issued = () =>
        [...provider.lineages.values()]
          .flat()
          .flatMap((l) => l.issued)
          .filter((i) => i.at > since && i.client !== null && i.client !== except).length
      const done = () => issued() >= count || Date.now() - since >= atMostMs
      await waitFor(`${count} refreshes by other instances`, () => (done() ? true : undefined), { timeoutMs: 60_000 })
    },

    /** Waits until callers have had `count` more 503s: the fault is felt. */
    async felt(count = 20): Promise<void> {
      const before = traffic.statuses.get(503) ?? 0
      await waitFor(`${count} answers 503`, () => ((traffic.statuses.get(503) ?? 0) >= before + count ? true : undefined), {
        timeoutMs: 60_000,
      })
    },

    /**
     * One fault: waits until every account has refreshed since the previous step (the
     * load is steady), runs `inject` (which returns once the fault is over), waits until
     * every account has refreshed since, and checks the invariants so far. `allowed` says
     * which duplicate refreshes the fault may cause by design (never more than one per account).
     */
    async fault(name: string, inject: () => Promise<void>, allowed: (d: Duplicate) => boolean = () => false) {
      await everyAccountRefreshedSince(provider, accounts, Date.now(), `before ${name}`)
      const started = Date.now()
      await inject()
      const ended = Date.now()
      await everyAccountRefreshedSince(provider, accounts, ended, `after ${name}`)
      const record = refreshRecord(provider)
      const duplicates = record.duplicates.filter((d) => !judged.has(`${d.account}-${d.orphan.n}`))
      for (const d of duplicates) judged.add(`${d.account}-${d.orphan.n}`)
      t.diagnostic(
        `${name} (${ended - started} ms): ${traffic.summary()}; ${provider.counts.refreshes} provider refreshes, ` +
          `${duplicates.length} duplicates, ${ledger.wrong} wrong tokens`,
      )
      try {
        assert.deepEqual(traffic.unexpectedStatuses(), [], `${name}: callers got only 200 and 503`)
        const dropped = [...traffic.unanswered.keys()].filter((i) => routed.some((r) => r.name === i))
        assert.deepEqual(dropped, [], `${name}: only a killed instance leaves requests unanswered`)
        assert.equal(ledger.wrong, 0, `${name}: wrong tokens handed out: ${ledger.wrongExamples.join('; ')}`)
        assert.equal(provider.counts.rejected, 0, `${name}: refresh tokens refused: ${provider.rejections.join('; ')}`)
        assert.deepEqual(record.early, [], `${name}: refreshes before the token's window`)
        const unexpected = duplicates.filter((d) => !allowed(d))
        assert.deepEqual(unexpected, [], `${name}: duplicate refreshes\n${story(unexpected.map((d) => d.account))}`)
        const twice = duplicates.filter((d, i) => duplicates.findIndex((e) => e.account === d.account) !== i)
        assert.deepEqual(twice, [], `${name}: more than one extra refresh for an account\n${story(twice.map((d) => d.account))}`)
      } catch (error) {
        // The story behind it: what the instances warned about.
        for (const line of warnings()) t.diagnostic(line)
        throw error
      }
      return { duplicates, started, ended }
    },
  }
}
