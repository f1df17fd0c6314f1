import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { StoreUnavailableError } from '../../src/errors.js'
import { installFastAccess } from '../../src/http/fast-access.js'
import { bearer, listen, testApp } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { json, rotatingTokens, startStubProvider } from '../helpers/stub-provider.js'

/**
 * The hot route's common answer is given ahead of Fastify (src/http/fast-access.ts); `inject`
 * never reaches it, so these tests use a real listener. Which path answered is visible: an
 * onResponse hook counts the token requests Fastify answered.
 */
const ROUTE = '/tokens/:account/access'
const NOW = Date.parse('2030-01-01T00:00:00Z')
const TOKEN = 'at-fast-path-0123456789'

/** `acmeTokenUrl`: acme's token endpoint (a stub); by default nothing listens there. */
async function appWith(t: TestContext, env: Record<string, string> = {}, acmeTokenUrl?: string) {
  // fastify: token requests Fastify answered; reads: the store's serving reads; failNext: the next
  // read fails, after failAfterMs.
  const counted = { fastify: 0, reads: 0, failNext: false, failAfterMs: 0 }
  const clock = { now: NOW }
  const { app, logs } = await testApp({
    t,
    providers: loopbackProviders(acmeTokenUrl ? { acmeTokenUrl } : {}),
    env: { AUDIT_ACCESS: 'true', ...env },
    deps: { clock: () => clock.now },
    setup: (a: FastifyInstance) => {
      a.addHook('onResponse', (request, _reply, done) => {
        if (request.url.startsWith('/tokens/') && request.url.includes('/access')) counted.fastify++
        done()
      })
      const grants = a.storage.grants
      const read = grants.getServingGrant.bind(grants)
      grants.getServingGrant = (account: string) => {
        counted.reads++
        if (!counted.failNext) return read(account)
        counted.failNext = false
        return new Promise((_resolve, reject) => setTimeout(() => reject(new StoreUnavailableError()), counted.failAfterMs))
      }
    },
  })
  await importGrant(app, 'acct-1', { provider: 'acme', access_token: TOKEN, refresh_token: 'rt-1', expires_in: 3600, scope: 'read' })
  await importGrant(app, 'team:b@x', { provider: 'acme', access_token: `${TOKEN}-b`, refresh_token: 'rt-2', expires_in: 3600 })
  const base = await listen(app)
  return { app, logs, base, counted, clock }
}

async function get(base: string, path: string, headers: Record<string, string>, method = 'GET') {
  const res = await fetch(`${base}${path}`, { method, headers })
  const body = await res.text()
  return { status: res.status, headers: Object.fromEntries(res.headers), body }
}

/** What must be equal between the two paths: everything but the date and a generated request id. */
const comparable = (r: { status: number; headers: Record<string, string>; body: string }) => {
  const { date: _date, 'x-request-id': _id, ...headers } = r.headers
  return { status: r.status, headers, body: r.body }
}

/** The access line's `ms` of the one answer with this status, and its duration histogram's count up to `le` seconds. */
async function timing(app: FastifyInstance, logs: { lines: string[] }, status: number) {
  const line = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.route === ROUTE && l.statusCode === status)
  assert.ok(line, logs.lines.join('\n'))
  const metrics = (await app.inject({ url: '/metrics' })).body
  const series = `le="LE",method="GET",route="\\/tokens\\/:account\\/access",status_code="${status}"`
  const inBucket = (le: string) =>
    Number(new RegExp(`http_request_duration_seconds_bucket\\{${series.replace('LE', le)}\\} (\\d+)`).exec(metrics)?.[1])
  return { ms: line.ms as number, inBucket, metrics }
}

const accessLines = (logs: { lines: string[] }) =>
  logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request' && l.route === ROUTE)

test('a known caller with a cached token is answered ahead of Fastify: the same status, headers, body, access line, metrics and audit', async (t) => {
  const { app, logs, base, counted } = await appWith(t)
  const headers = bearer({ scopes: ['tokens:read'] })
  const first = await get(base, '/tokens/acct-1/access', headers)
  assert.equal(counted.fastify, 1, 'the first request (an unknown caller, an empty near cache) runs through Fastify')
  const second = await get(base, '/tokens/acct-1/access', { ...headers, 'x-request-id': 'req-fast-1' })
  assert.equal(counted.fastify, 1, 'the second is answered ahead of Fastify')
  assert.equal(first.status, 200)
  assert.equal(JSON.parse(second.body).access_token, TOKEN)
  assert.deepEqual(comparable(second), comparable(first))
  assert.match(first.headers['x-request-id']!, /^[0-9a-f-]{36}$/)
  assert.equal(second.headers['x-request-id'], 'req-fast-1')

  const lines = accessLines(logs)
  assert.equal(lines.length, 2)
  const shape = ({ time: _t, ms, reqId: _r, pid: _p, hostname: _h, ...rest }: Record<string, unknown>) => ({ ...rest, ms: typeof ms })
  assert.deepEqual(shape(lines[1]!), shape(lines[0]!))
  assert.equal(lines[1]!.reqId, 'req-fast-1')

  const metrics = (await app.inject({ url: '/metrics' })).body
  assert.match(metrics, /http_request_duration_seconds_count\{method="GET",route="\/tokens\/:account\/access",status_code="200"\} 2\n/)
  const audit = await app.inject({ url: '/audit?account=acct-1', headers: bearer() })
  const issued = (JSON.parse(audit.body).entries as { event: string; request_id?: string }[]).filter((e) => e.event === 'token.issued')
  assert.equal(issued.length, 2, audit.body)
  assert.ok(
    issued.some((e) => e.request_id === 'req-fast-1'),
    audit.body,
  )
})

test('min_ttl and percent-encoded ids are read as the router reads them; every other request goes to Fastify and gets its answer', async (t) => {
  const { base, counted } = await appWith(t)
  const headers = bearer({ scopes: ['tokens:read'] })
  await get(base, '/tokens/acct-1/access', headers)
  await get(base, '/tokens/team%3Ab%40x/access', headers)
  const warm = counted.fastify

  const fast = [
    '/tokens/acct-1/access?min_ttl=0',
    '/tokens/acct-1/access?min_ttl=600',
    '/tokens/team%3Ab%40x/access',
    '/tokens/team:b@x/access?min_ttl=60',
  ]
  for (const path of fast) {
    const res = await get(base, path, headers)
    assert.equal(res.status, 200, path)
    assert.equal(counted.fastify, warm, `${path} is answered ahead of Fastify`)
  }

  const viaFastify: [string, number, string?][] = [
    ['/tokens/acct-1/access?min_ttl=3601', 400],
    ['/tokens/acct-1/access?min_ttl=abc', 400],
    ['/tokens/acct-1/access?min_ttl=1&x=1', 400],
    ['/tokens/acct-1/access/', 404],
    ['/tokens/acct-1/access', 200, 'HEAD'],
  ]
  for (const [path, status, method] of viaFastify) {
    const before = counted.fastify
    const res = await get(base, path, headers, method)
    assert.equal(res.status, status, `${method ?? 'GET'} ${path}: ${res.body}`)
    assert.equal(counted.fastify, before + 1, `${method ?? 'GET'} ${path} runs through Fastify`)
  }
  // A malformed escape is the router's 400 (answered before any hook runs).
  assert.equal((await get(base, '/tokens/%E0%A4%A/access', headers)).status, 400)
})

test('callers the fast path cannot admit go to Fastify, which refuses them the same way every time', async (t) => {
  const { base, counted } = await appWith(t)
  await get(base, '/tokens/acct-1/access', bearer({ scopes: ['tokens:read'] })) // the token is in the near cache
  const cases: [string, Record<string, string>, number][] = [
    ['no Authorization header', {}, 401],
    ['a caller without tokens:read', bearer({ scopes: ['accounts:read'] }), 403],
    ['a caller whose accounts claim leaves the account out', bearer({ scopes: ['tokens:read'], accounts: ['team*'] }), 403],
    ['a tampered token', { authorization: `${bearer().authorization}x` }, 401],
  ]
  for (const [what, headers, status] of cases) {
    for (let i = 0; i < 2; i++) {
      const before = counted.fastify
      const res = await get(base, '/tokens/acct-1/access', headers)
      assert.equal(res.status, status, `${what} (${i}): ${res.body}`)
      assert.equal(counted.fastify, before + 1, `${what} (${i}) runs through Fastify`)
    }
  }
  // The accounts claim admits what it names, on the fast path too.
  const limited = bearer({ scopes: ['tokens:read'], accounts: ['acct-*'] })
  await get(base, '/tokens/acct-1/access', limited)
  const before = counted.fastify
  assert.equal((await get(base, '/tokens/acct-1/access', limited)).status, 200)
  assert.equal(counted.fastify, before)
})

test('a revoked account is not served from the fast path: the next request goes to Fastify and gets 404', async (t) => {
  const { app, base, counted } = await appWith(t)
  const headers = bearer({ scopes: ['tokens:read'] })
  await get(base, '/tokens/acct-1/access', headers)
  await get(base, '/tokens/acct-1/access', headers)
  assert.equal(counted.fastify, 1)
  const revoked = await app.inject({ method: 'DELETE', url: '/tokens/acct-1', headers: bearer() })
  assert.equal(revoked.statusCode, 200, revoked.body)
  const after = await get(base, '/tokens/acct-1/access', headers)
  assert.equal(after.status, 404, after.body)
  assert.equal(counted.fastify, 2)
})

test('an account imported again is answered from the fast path with its new token, expiry and scope, and each second with its own expires_in', async (t) => {
  const { app, base, counted, clock } = await appWith(t)
  const headers = bearer({ scopes: ['tokens:read'] })
  const body = async () => JSON.parse((await get(base, '/tokens/acct-1/access', headers)).body) as Record<string, unknown>
  await body()
  const held = await body()
  assert.equal(counted.fastify, 1, 'the second is a near-cache hit of the fast path')
  assert.deepEqual([held.access_token, held.scope, held.expires_in], [TOKEN, 'read', 3600])
  await importGrant(app, 'acct-1', {
    provider: 'acme',
    access_token: 'at-imported-again',
    refresh_token: 'rt-9',
    expires_in: 7200,
    scope: 'read write',
  })
  const again = [await body(), await body()]
  assert.equal(counted.fastify, 1, 'both answered ahead of Fastify: a store read, then a near-cache hit')
  for (const b of again) assert.deepEqual([b.access_token, b.scope, b.expires_in], ['at-imported-again', 'read write', 7200])
  clock.now += 1500
  assert.equal((await body()).expires_in, 7198)
  assert.equal(counted.fastify, 1)
})

test('with the near cache off, a known caller is answered ahead of Fastify from one store read per request', async (t) => {
  const { base, counted } = await appWith(t, { ACCESS_CACHE_MS: '0' })
  const headers = bearer({ scopes: ['tokens:read'] })
  const first = await get(base, '/tokens/acct-1/access', headers)
  for (let i = 0; i < 3; i++) assert.deepEqual(comparable(await get(base, '/tokens/acct-1/access', headers)), comparable(first))
  assert.equal(first.status, 200)
  assert.equal(counted.fastify, 1, 'only the first request (an unknown caller) runs through Fastify')
  assert.equal(counted.reads, 4)
})

test('a read that does not serve goes to Fastify with its request: the route answers from it, without reading again', async (t) => {
  const { base, counted } = await appWith(t, { ACCESS_CACHE_MS: '0' })
  const headers = bearer({ scopes: ['tokens:read'] })
  await get(base, '/tokens/acct-1/access', headers) // the caller is known from here on
  const cases: [string, string, number, string][] = [
    ['no grant', '/tokens/acct-2/access', 404, 'ACCOUNT_NOT_FOUND'],
    ['a failed read (no token held to fall back on)', '/tokens/acct-1/access', 503, 'STORE_UNAVAILABLE'],
  ]
  for (const [what, path, status, code] of cases) {
    counted.failNext = status === 503
    const before = { fastify: counted.fastify, reads: counted.reads }
    const res = await get(base, path, headers)
    assert.equal(res.status, status, `${what}: ${res.body}`)
    assert.equal(JSON.parse(res.body).code, code, what)
    assert.equal(counted.fastify, before.fastify + 1, `${what}: answered by the route`)
    assert.equal(counted.reads, before.reads + 1, `${what}: one store read`)
  }
})

test("a request handed on counts the fast path's time in its access line and histogram: a read that failed after 100 ms shows them", async (t) => {
  const { app, logs, base, counted } = await appWith(t, { ACCESS_CACHE_MS: '0' })
  const headers = bearer({ scopes: ['tokens:read'] })
  await get(base, '/tokens/acct-1/access', headers) // the caller is known from here on
  counted.failNext = true
  counted.failAfterMs = 100
  const res = await get(base, '/tokens/acct-1/access', headers)
  assert.equal(res.status, 503, res.body)
  assert.equal(counted.fastify, 2, 'answered by the route')
  const timed = await timing(app, logs, 503)
  // Half the read's 100 ms: a timer may fire a little early against performance.now(), and the
  // route's own time is well under a millisecond.
  assert.ok(timed.ms >= 50, `the line counts the failed read: ${timed.ms} ms`)
  assert.equal(timed.inBucket('10'), 1, timed.metrics)
  assert.equal(timed.inBucket('0.05'), 0, "the histogram has it past the read's 100 ms, not at the route's own few")
})

test('with the near cache on, a failed read hands the route its fallback: the token this instance read, served without a second read', async (t) => {
  const { base, counted, clock } = await appWith(t, { ACCESS_CACHE_MS: '1000' })
  const headers = bearer({ scopes: ['tokens:read'] })
  await get(base, '/tokens/acct-1/access', headers)
  // The entry no longer answers as a hit, but it is the outage fallback.
  clock.now += 1000
  counted.failNext = true
  const before = { fastify: counted.fastify, reads: counted.reads }
  const res = await get(base, '/tokens/acct-1/access', headers)
  assert.equal(res.status, 200, res.body)
  assert.equal(JSON.parse(res.body).access_token, TOKEN)
  assert.equal(counted.fastify, before.fastify + 1)
  assert.equal(counted.reads, before.reads + 1)
})

test("callers waiting on a refresh are answered ahead of Fastify: one provider call for all of them, the route's answer, access line and metric", async (t) => {
  const stub = await startStubProvider()
  t.after(() => stub.close())
  const PROVIDER_MS = 100
  stub.handle('/token', rotatingTokens('new-', { delayMs: PROVIDER_MS }))
  const { app, logs, base, counted, clock } = await appWith(t, { ACCESS_CACHE_MS: '0' }, `${stub.url}/token`)
  const headers = bearer({ scopes: ['tokens:read'] })
  const first = await get(base, '/tokens/acct-1/access', headers) // through Fastify: the caller is known from here on
  clock.now += 3600_000 // acct-1's token has expired

  const waiters = await Promise.all(Array.from({ length: 20 }, () => get(base, '/tokens/acct-1/access', headers)))
  assert.equal(stub.count('/token'), 1, 'one refresh for all of them')
  assert.equal(counted.fastify, 1, 'none of them ran through Fastify')
  const { 'content-length': _f, ...headersOfFirst } = comparable(first).headers
  for (const w of waiters) {
    assert.equal(w.status, 200, w.body)
    assert.deepEqual(JSON.parse(w.body), {
      account: 'acct-1',
      provider: 'acme',
      access_token: 'new-at-1',
      token_type: 'Bearer',
      expires_at: new Date(clock.now + 3600_000).toISOString(),
      expires_in: 3600,
      scope: 'read',
    })
    const { 'content-length': _w, ...headersOf } = comparable(w).headers
    assert.deepEqual(headersOf, headersOfFirst)
  }
  const lines = accessLines(logs)
  assert.equal(lines.length, 21)
  for (const line of lines.slice(1)) assert.equal(line.statusCode, 200)
  // The caller that started the refresh waited the provider's whole 100 ms; a later one, less
  // (it arrived after the call was made), so only the longest wait is known (half of 100 ms
  // checked: a timer may fire a little early against performance.now()).
  const longest = Math.max(...lines.slice(1).map((l) => l.ms as number))
  assert.ok(longest >= PROVIDER_MS / 2, `the lines count the wait for the provider: the longest is ${longest} ms`)
  const metrics = (await app.inject({ url: '/metrics' })).body
  assert.match(metrics, /http_request_duration_seconds_count\{method="GET",route="\/tokens\/:account\/access",status_code="200"\} 21\n/)
})

test('a refresh that fails while the fast path waits is answered by the route with its error and request id; the access line and histogram count the wait', async (t) => {
  const stub = await startStubProvider()
  t.after(() => stub.close())
  const PROVIDER_MS = 100
  stub.handle('/token', async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, PROVIDER_MS))
    json(res, 400, { error: 'invalid_grant', error_description: 'revoked' })
  })
  const { app, logs, base, counted, clock } = await appWith(t, { ACCESS_CACHE_MS: '0' }, `${stub.url}/token`)
  const headers = bearer({ scopes: ['tokens:read'] })
  await get(base, '/tokens/acct-1/access', headers) // the caller is known from here on
  clock.now += 3600_000

  const failed = await get(base, '/tokens/acct-1/access', headers)
  assert.equal(failed.status, 409, failed.body)
  assert.equal(JSON.parse(failed.body).code, 'REAUTHENTICATION_REQUIRED')
  assert.equal(counted.fastify, 2, 'the route answered it')
  assert.equal(stub.count('/token'), 1, 'the route did not refresh again')
  const audit = await app.inject({ url: '/audit?account=acct-1', headers: bearer() })
  const reauth = (JSON.parse(audit.body).entries as { event: string; request_id?: string }[]).find(
    (e) => e.event === 'account.reauth_required',
  )
  assert.ok(reauth, audit.body)
  assert.equal(reauth.request_id, failed.headers['x-request-id'], "the event written during the wait names the answer's request id")
  const timed = await timing(app, logs, 409)
  assert.ok(timed.ms >= PROVIDER_MS / 2, `the line counts the wait for the provider: ${timed.ms} ms`)
  assert.equal(timed.inBucket('10'), 1, timed.metrics)
  assert.equal(timed.inBucket('0.05'), 0, "the histogram has it past the provider's 100 ms, not at Fastify's own few")
})

test('with a rate limit on tokens:read every request runs through Fastify, which counts it', async (t) => {
  const { base, counted } = await appWith(t, { RATE_LIMIT_PER_MINUTE: 'tokens:read=3' })
  const headers = bearer({ scopes: ['tokens:read'] })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await get(base, '/tokens/acct-1/access', headers)).status)
  assert.deepEqual(statuses, [200, 200, 200, 429, 429])
  assert.equal(counted.fastify, 5)
})

test('while the process sheds load or closes, the fast path steps aside: the request reaches Fastify untouched', async (t) => {
  const state = { underPressure: false, closing: false, lookups: 0 }
  const caller = { sub: 'svc', scopes: new Set(['tokens:read']), accounts: null, mayUse: () => true }
  const token = {
    account: 'acct-1',
    provider: 'stub',
    accessToken: TOKEN,
    tokenType: 'Bearer',
    expiresAt: NOW + 60_000,
    scope: null,
    issuedAt: NOW,
  }
  // Stands in for Fastify's listener: whatever reaches it is answered 418.
  const server = createServer((_req, res) => res.writeHead(418).end())
  installFastAccess(server, {
    knownCaller: () => caller,
    cachedAccess: () => {
      state.lookups++
      return token
    },
    readForServing: () => Promise.resolve({ stamp: 0, error: new Error('not used') }),
    servedAsRead: () => undefined,
    getAccess: () => Promise.reject(new Error('not used')),
    underPressure: () => state.underPressure,
    closing: () => state.closing,
    requestId: () => 'id-1',
    accessLine: pino({ level: 'silent' }),
    observe: () => {},
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const headers = { authorization: 'Bearer x' }

  const answered = await get(base, '/tokens/acct-1/access', headers)
  assert.equal(answered.status, 200)
  assert.deepEqual(JSON.parse(answered.body), {
    account: 'acct-1',
    provider: 'stub',
    access_token: TOKEN,
    token_type: 'Bearer',
    expires_at: new Date(NOW + 60_000).toISOString(),
    expires_in: 60,
    scope: null,
  })
  for (const toggle of ['underPressure', 'closing'] as const) {
    state[toggle] = true
    const before = state.lookups
    assert.equal((await get(base, '/tokens/acct-1/access', headers)).status, 418, toggle)
    assert.equal(state.lookups, before, `${toggle}: no token was looked up (nor counted, nor audited)`)
    state[toggle] = false
  }
})
