/**
 * The soak: 3 broker processes on one real Redis (AOF), thousands of accounts whose tokens
 * live SOAK_TOKEN_SECONDS at a strictly rotating stub provider; reads, forced refreshes,
 * relinks and revokes; an instance killed, Redis restarted and a provider outage on a
 * schedule. Every answer is checked (see SoakLedger); at the end every grant must still
 * refresh. Last line: `soak: refreshes per expiry X.XX, failed attempts N, lost grants N,
 * wrong tokens N, 5xx N`; exit 1 unless 1.00, 0 lost, 0 wrong.
 *
 * SOAK_SECONDS (default 180), SOAK_ACCOUNTS (2000), SOAK_TOKEN_SECONDS (30), SOAK_CONCURRENCY (16).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { spawnBroker, type BrokerProcess } from './support/broker-process.js'
import { startRedis } from './support/redis-server.js'
import { SoakLedger, refreshesPerExpiry, windowOpensAt } from './support/soak-ledger.js'
import { startSoakProvider } from './support/soak-provider.js'

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const SECONDS = num('SOAK_SECONDS', 180)
const ACCOUNTS = num('SOAK_ACCOUNTS', 2000)
const LIFETIME_MS = num('SOAK_TOKEN_SECONDS', 30) * 1000
const CONCURRENCY = num('SOAK_CONCURRENCY', 16)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (text: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${text}\n`)

const secret = randomBytes(32).toString('hex')
const jwt = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 24 * 3600_000 })({
  sub: 'soak',
  scope: 'tokens:read tokens:revoke accounts:read accounts:write',
})
const auth = { authorization: `Bearer ${jwt}` }

const redis = await startRedis({ appendonly: true })
// Reuse grace as Okta and Auth0 give it: what saves a grant whose commit died with a SIGKILLed instance.
const GRACE_MS = 60_000 // Okta's longest
const provider = await startSoakProvider(LIFETIME_MS, GRACE_MS)
const dir = mkdtempSync(join(os.tmpdir(), 'soak-'))
// Each process its own client id, so the provider knows which instance it issued a token to.
const providersFile = (clientId: string) => {
  const file = join(dir, `providers-${clientId}.yaml`)
  writeFileSync(
    file,
    `providers:\n  stub:\n    template: oauth2\n    authorization_url: ${provider.url}/authorize\n    token_url: ${provider.url}/token\n    client_id: ${clientId}\n    client_secret: soak-secret\n`,
  )
  return file
}
const env = {
  REDIS_URL: redis.url,
  REDIS_KEY_PREFIX: 'soak:',
  ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  AUTH_JWT_SECRET: secret,
  PROVIDER_TIMEOUT_MS: '3000',
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  // The skew the broker would take anyway for provider tokens (half their lifetime), for imports too.
  REFRESH_SKEW_SECONDS: String(LIFETIME_MS / 2000),
  RATE_LIMIT_PER_MINUTE: '0',
}
const START_TIMEOUT_MS = 120_000
type Instance = BrokerProcess & { clientId: string }
let spawned = 0
const spawnInstance = (): Promise<Instance> => {
  const clientId = `soak-${++spawned}`
  return spawnBroker({ ...env, PROVIDERS_FILE: providersFile(clientId) }, START_TIMEOUT_MS).then((broker) => ({ ...broker, clientId }))
}
/** The killed instance's client id: tokens issued to it and then orphaned are refreshes whose commit died with it. */
let killedClient: string | null = null
const brokers: (Instance | null)[] = []
for (let i = 0; i < 3; i++) brokers.push(await spawnInstance())
const peakRss = [0, 0, 0]
const notePeaks = () =>
  brokers.forEach((b, i) => {
    peakRss[i] = Math.max(peakRss[i]!, b?.peakRssMb() ?? 0)
  })

const ledger = new SoakLedger(provider)
const tally = { requests: 0, fiveXx: 0, refused: 0, forced: 0, relinks: 0, revokes: 0, statuses: new Map<number, number>() }
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `soak-${i}`)
const revoked = new Set<string>()
const busy = new Set<string>()

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> } | null> {
  const live = brokers.filter((b): b is Instance => b !== null)
  const broker = live[Math.floor(Math.random() * live.length)]!
  try {
    const res = await fetch(
      `${broker.url}${path}`,
      body === undefined
        ? { method, headers: auth }
        : { method, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) },
    )
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>
    tally.requests++
    tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1)
    if (res.status >= 500) tally.fiveXx++
    return { status: res.status, json }
  } catch {
    tally.refused++ // the instance was killed under the request
    return null
  }
}

async function link(account: string): Promise<void> {
  const { lineage, accessToken, refreshToken } = provider.link(account, Date.now())
  const res = await call('PUT', `/accounts/${account}`, {
    provider: 'stub',
    access_token: accessToken,
    refresh_token: refreshToken,
    expires_in: LIFETIME_MS / 1000,
  })
  if (res && (res.status === 200 || res.status === 201)) {
    provider.confirmLink(account, lineage, Date.now())
    revoked.delete(account)
  }
}

async function step(account: string): Promise<void> {
  if (revoked.has(account)) {
    tally.relinks++
    return link(account)
  }
  const roll = Math.random()
  const sentAt = Date.now()
  if (roll < 0.01) {
    const res = await call('DELETE', `/tokens/${account}`)
    if (res?.status === 200) {
      provider.endAll(account, Date.now())
      revoked.add(account)
      tally.revokes++
    }
    // No answer (a killed instance) or a 5xx: it may have been deleted; link it again next time.
    else if (res === null || res.status >= 500) revoked.add(account)
    return
  }
  if (roll < 0.02) {
    tally.relinks++
    return link(account)
  }
  const lineage = provider.current(account)
  const young = lineage && Date.now() - lineage.issued.at(-1)!.at < LIFETIME_MS / 4
  const force = roll < 0.05 && young
  const res = await call(force ? 'POST' : 'GET', `/tokens/${account}/${force ? 'refresh' : 'access'}`)
  if (res?.status === 200) {
    if (force) tally.forced++
    ledger.check(account, String(res.json.access_token), sentAt, Date.now())
  }
}

async function lane(until: () => boolean): Promise<void> {
  while (!until()) {
    const account = accounts[Math.floor(Math.random() * accounts.length)]!
    if (busy.has(account)) continue // one operation per account at a time, as one caller would
    busy.add(account)
    try {
      await step(account)
    } finally {
      busy.delete(account)
    }
  }
}

log(`linking ${ACCOUNTS} accounts (tokens live ${LIFETIME_MS / 1000} s) on 3 instances`)
for (let i = 0; i < accounts.length; i += 50) await Promise.all(accounts.slice(i, i + 50).map(link))

const started = Date.now()
const endAt = started + SECONDS * 1000
let stop = false
const lanes = Array.from({ length: CONCURRENCY }, () => lane(() => stop))
const faults = (async () => {
  const at = (fraction: number) => sleep(Math.max(0, started + SECONDS * 1000 * fraction - Date.now()))
  await at(0.25)
  log('fault: SIGKILL instance 3, restart it 5 s later')
  notePeaks()
  const victim = brokers[2]!
  brokers[2] = null
  killedClient = victim.clientId
  await victim.kill('SIGKILL')
  await sleep(5000)
  brokers[2] = await spawnInstance()
  await at(0.5)
  log('fault: Redis restart')
  await redis.stop()
  await redis.start()
  await at(0.75)
  log(`fault: provider outage for ${LIFETIME_MS / 6000} s`)
  provider.down = true
  await sleep(LIFETIME_MS / 6)
  provider.down = false
})()
while (Date.now() < endAt) {
  await sleep(Math.min(10_000, endAt - Date.now()))
  notePeaks()
  log(`${tally.requests} requests, ${provider.counts.refreshes} provider refreshes, ${ledger.wrong} wrong, ${tally.fiveXx} 5xx`)
}
stop = true
await Promise.all([...lanes, faults])
const stoppedAt = Date.now()

// Drain: every token whose window opened before the stop gets its refresh (proactive or not).
log('draining: waiting for every due token to be refreshed')
const pending = () =>
  [...provider.lineages.values()].filter((list) => {
    const lineage = list.at(-1)!
    const newest = lineage.issued.at(-1)!
    return (
      lineage.endedAt === null &&
      newest.n > 0 &&
      windowOpensAt(newest.at, LIFETIME_MS) < stoppedAt &&
      windowOpensAt(newest.at, LIFETIME_MS) + LIFETIME_MS / 2 < Date.now()
    )
  }).length
const drainUntil = Date.now() + LIFETIME_MS
while (Date.now() < drainUntil && provider.lineages.size > 0) {
  await sleep(1000)
  if (pending() === 0 && Date.now() > stoppedAt + LIFETIME_MS / 2) break
}

// Lost grants: every linked account must still refresh (a forced refresh, once).
notePeaks()
let lost = 0
const lostExamples: string[] = []
for (const account of accounts) {
  if (revoked.has(account)) continue
  const before = provider.refreshesOf(account)
  const res = await call('POST', `/tokens/${account}/refresh`)
  if (res?.status !== 200 || provider.refreshesOf(account) !== before + 1) {
    lost++
    if (lostExamples.length < 5)
      lostExamples.push(`${account}: ${res?.status ?? 'no answer'} ${JSON.stringify(res?.json ?? {}).slice(0, 200)}`)
  } else tally.forced++
}
const ratio = refreshesPerExpiry(provider, stoppedAt, tally.forced, killedClient)
await Promise.all(brokers.map((b) => b?.kill('SIGTERM')))
await provider.close()
await redis.dispose()

const cpu = os.cpus()
process.stdout.write(`
soak report (${new Date().toISOString()}, ${os.hostname()}: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version})
  ${SECONDS} s, ${ACCOUNTS} accounts, tokens live ${LIFETIME_MS / 1000} s, 3 instances, ${CONCURRENCY} callers
  requests ${tally.requests} (${[...tally.statuses]
    .sort()
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ')}), refused by a killed instance ${tally.refused}
  provider refreshes ${provider.counts.refreshes} (${ratio.due} of due tokens, ${ratio.early} early of which ${tally.forced} forced), rejected refresh tokens ${provider.counts.rejected}
  refreshes whose commit died with the killed instance ${ratio.lostToKill} (saved by the provider's reuse grace), duplicate refreshes ${ratio.duplicates}
  expiries ${ratio.expiries} (and ${ratio.replaced} due tokens replaced by a relink or revoke before a refresh), relinks ${tally.relinks}, revokes ${tally.revokes}
  peak RSS per instance (MiB): ${peakRss.join(', ')}
${ledger.wrongExamples.map((e) => `  wrong: ${e}\n`).join('')}${provider.rejections.map((e) => `  rejected: ${e}\n`).join('')}${lostExamples.map((e) => `  lost: ${e}\n`).join('')}`)
process.stdout.write(
  `soak: refreshes per expiry ${ratio.ratio.toFixed(2)}, failed attempts ${provider.counts.failedInOutage + provider.counts.rejected}, lost grants ${lost}, wrong tokens ${ledger.wrong}, 5xx ${tally.fiveXx}\n`,
)
process.exit(ratio.ratio.toFixed(2) === '1.00' && lost === 0 && ledger.wrong === 0 ? 0 : 1)
