/**
 * `npm run bench:refresh`: provider calls per account-hour under hostile caller patterns,
 * beside the ideal of one call per token lifetime. Time is simulated (the broker runs on a
 * clock the bench moves), the broker and the provider are real HTTP servers on loopback, the
 * store is the embedded one. Requests go in batches of BATCH that share one simulated instant.
 * Nothing here is timed: the numbers are call counts.
 *
 *   BENCH_SIM_SECONDS   simulated seconds per pattern (default 600)
 */
import { Agent, createServer, get } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const SIM_SECONDS = Number(process.env.BENCH_SIM_SECONDS ?? 600)
const BATCH = 10
const SECRET = 'bench-secret-0123456789abcdef0123456789'
const auth = {
  authorization: `Bearer ${createSigner({ key: SECRET, expiresIn: 86_400_000 })({ sub: 'bench', scope: 'tokens:read accounts:write' })}`,
}

/** A token endpoint handing out numbered tokens that live `lifetime` seconds; `down()` makes it answer 503. */
async function provider(lifetime: number) {
  let calls = 0
  let failing = false
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      calls++
      if (failing) return void res.writeHead(503).end()
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: `at-${calls}`, refresh_token: `rt-${calls}`, expires_in: lifetime, token_type: 'Bearer' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => calls,
    fail: (on: boolean) => {
      failing = on
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function broker(tokenUrl: string, clock: () => number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'))
  const file = join(dir, 'providers.json')
  writeFileSync(
    file,
    JSON.stringify({
      providers: {
        p: { template: 'oauth2', authorization_url: `${tokenUrl}/a`, token_url: `${tokenUrl}/token`, client_id: 'c', client_secret: 's' },
      },
    }),
  )
  const app = await buildApp(
    loadConfig({
      AUTH_JWT_SECRET: SECRET,
      PROVIDERS_FILE: file,
      LOG_LEVEL: 'silent',
      PROVIDER_TIMEOUT_MS: '2000',
      // The load generator shares this process: its own event-loop delay is not the broker being overloaded.
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    }),
    { clock },
  )
  rmSync(dir, { recursive: true })
  return app
}

interface Pattern {
  name: string
  accounts: number
  lifetime: number
  perSecond: number
  minTtl: number
  outageSeconds: number
}

async function run(p: Pattern) {
  let now = Date.parse('2030-01-01T00:00:00Z')
  const stub = await provider(p.lifetime)
  const app = await broker(stub.url, () => now)
  try {
    for (let i = 0; i < p.accounts; i++) {
      await app.inject({
        method: 'PUT',
        url: `/accounts/a${i}`,
        headers: auth,
        payload: { provider: 'p', access_token: 'x', refresh_token: 'rt', expires_in: 0 },
      })
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    const agent = new Agent({ keepAlive: true, maxSockets: BATCH })
    const query = p.minTtl ? `?min_ttl=${p.minTtl}` : ''
    const errors = new Map<string, number>()
    const fetchStatus = (account: string) =>
      new Promise<number>((resolve, reject) => {
        get({ port, path: `/tokens/${account}/access${query}`, agent, headers: auth }, (res) => {
          let body = ''
          res.on('data', (chunk: Buffer) => {
            if (res.statusCode !== 200) body += chunk.toString()
          })
          res.on('end', () => {
            if (res.statusCode !== 200) {
              const code = (JSON.parse(body) as { code?: string }).code ?? 'unknown'
              errors.set(code, (errors.get(code) ?? 0) + 1)
            }
            resolve(res.statusCode ?? 0)
          })
        }).on('error', reject)
      })
    const statuses = new Map<number, number>()
    let healedAt: number | null = null
    const total = SIM_SECONDS * p.perSecond
    stub.fail(p.outageSeconds > 0)
    for (let tick = 0; tick < total; tick += BATCH) {
      now += (1000 / p.perSecond) * BATCH
      const second = tick / p.perSecond
      if (p.outageSeconds > 0 && second >= p.outageSeconds) stub.fail(false)
      const codes = await Promise.all(Array.from({ length: BATCH }, (_, i) => fetchStatus(`a${(tick + i) % p.accounts}`)))
      for (const code of codes) statuses.set(code, (statuses.get(code) ?? 0) + 1)
      if (healedAt === null && p.outageSeconds > 0 && second >= p.outageSeconds && codes.every((c) => c === 200)) {
        healedAt = second - p.outageSeconds
      }
    }
    agent.destroy()
    const hours = SIM_SECONDS / 3600
    return {
      pattern: p.name,
      requests: total,
      provider_calls: stub.calls(),
      calls_per_account_hour: +(stub.calls() / p.accounts / hours).toFixed(1),
      ideal_per_account_hour: +(3600 / p.lifetime).toFixed(1),
      statuses: Object.fromEntries(statuses),
      ...(errors.size > 0 ? { errors: Object.fromEntries(errors) } : {}),
      ...(p.outageSeconds > 0 ? { all_200_after_recovery_s: healedAt } : {}),
    }
  } finally {
    await app.close()
    await stub.close()
  }
}

const patterns: Pattern[] = [
  {
    name: '1 account, 1,000 GETs/s, min_ttl=3600, 3600 s tokens',
    accounts: 1,
    lifetime: 3600,
    perSecond: 1000,
    minTtl: 3600,
    outageSeconds: 0,
  },
  {
    name: '100 accounts, 120 s tokens, each polled every 100 ms',
    accounts: 100,
    lifetime: 120,
    perSecond: 1000,
    minTtl: 0,
    outageSeconds: 0,
  },
  { name: 'the same, provider failing for the first 60 s', accounts: 100, lifetime: 120, perSecond: 1000, minTtl: 0, outageSeconds: 60 },
]
console.log(`refresh policy: ${SIM_SECONDS} simulated seconds per pattern`)
for (const p of patterns) console.log(JSON.stringify(await run(p)))
