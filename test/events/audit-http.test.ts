import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import type { AuditEntry } from '../../src/events/audit-log.js'
import { EVENT_NAMES, type EventName } from '../../src/events/events.js'
import { keySpace } from '../../src/store/keys.js'
import { callerToken } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { startRedis } from '../helpers/redis-server.js'
import { startStubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'
import { Secrets, access, importAccount, link, reuse, scriptedProvider } from './scenario.js'
import { allAuditEntries, assertNoSecrets } from './support.js'

const redis = await startRedis()
after(() => redis.dispose())

/** Every event the contract names: each must reach the trail. */
const EVERY_EVENT: readonly EventName[] = EVENT_NAMES

const strip = ({ id: _id, time: _time, ...rest }: AuditEntry) => rest
const row = (event: EventName, o: Partial<Omit<AuditEntry, 'id' | 'time' | 'event'>> = {}) => ({
  event,
  account: null,
  provider: 'stub',
  sub: 'svc-audit',
  request_id: null,
  outcome: null,
  detail: null,
  ...o,
})

for (const kind of ['memory', 'redis'] as const) {
  describe(`the audit trail through HTTP (${kind} store)`, () => {
    test('every event kind is recorded with who, what and outcome, and no token is anywhere in it', async (t) => {
      const stub = await startStubProvider()
      const prefix = `au${randomUUID()}:`
      const { app, logs } = await brokerFor(stub, {
        redis: kind === 'redis' ? redis : undefined,
        env: { AUDIT_ACCESS: 'true', REDIS_KEY_PREFIX: prefix },
      })
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      const secrets = new Secrets()
      const provider = scriptedProvider(stub, secrets)

      // account.imported, then account.refreshed and token.issued (60 s left is inside the skew)
      await importAccount(
        app,
        secrets,
        'acct-ok',
        { access_token: secrets.token('at-imported'), refresh_token: secrets.token('rt-ok'), expires_in: 60 },
        'req-import',
      )
      assert.equal((await access(app, secrets, 'acct-ok', 'req-access')).statusCode, 200)
      // account.linked, through /connect and the provider's redirect
      await link(app, secrets, 'acct-link')
      // account.refresh_failed (transient): the still-valid token is served
      await importAccount(app, secrets, 'acct-flaky', {
        access_token: secrets.token('at-flaky'),
        refresh_token: secrets.token('rt-flaky'),
        expires_in: 120,
      })
      assert.equal((await access(app, secrets, 'acct-flaky')).statusCode, 200)
      // account.refresh_failed (invalid_grant) and account.reauth_required; then account.recovered by a new import
      await importAccount(app, secrets, 'acct-dead', {
        access_token: secrets.token('at-dead'),
        refresh_token: secrets.token('rt-dead'),
        expires_in: 10,
      })
      assert.equal((await access(app, secrets, 'acct-dead', 'req-dead')).statusCode, 409)
      await importAccount(app, secrets, 'acct-dead', { refresh_token: secrets.token('rt-new') }, 'req-recover')
      // account.reuse_detected and account.reauth_required
      await reuse(app, secrets, stub, 'acct-reuse', provider.open)
      // account.revoked (the stub has no revocation endpoint: not_supported)
      assert.equal((await app.inject({ method: 'DELETE', url: '/tokens/acct-link', headers: secrets.caller() })).statusCode, 200)
      // caller.denied: a missing scope, an account outside the caller's claim (no JWT and a forged JWT: never audited)
      assert.equal((await app.inject({ method: 'GET', url: '/accounts' })).statusCode, 401)
      const forged = secrets.add(callerToken({ secret: 'not-the-broker-secret-0123456789' }))
      assert.equal(
        (await app.inject({ method: 'GET', url: '/accounts/acct-ok', headers: { authorization: `Bearer ${forged}` } })).statusCode,
        401,
      )
      assert.equal(
        (await app.inject({ method: 'GET', url: '/accounts', headers: secrets.caller({ scopes: ['tokens:read'] }) })).statusCode,
        403,
      )
      assert.equal((await access(app, secrets, 'acct-ok', 'req-access-2')).statusCode, 200)
      const outsider = secrets.caller({ sub: 'svc-other', accounts: ['acct-link'] }, 'req-outsider')
      assert.equal((await app.inject({ method: 'GET', url: '/tokens/acct-ok/access', headers: outsider })).statusCode, 403)

      const admin = secrets.caller({ scopes: ['accounts:read'] })
      const read = async (query = '') => {
        const res = await app.inject({ method: 'GET', url: `/audit${query}`, headers: admin })
        assert.equal(res.statusCode, 200, res.body)
        return res.json() as { entries: AuditEntry[]; next_cursor: string | null }
      }
      const entries = await waitFor('every event kind in the trail', async () => {
        const { entries: e } = await read('?limit=500')
        return EVERY_EVENT.every((name) => e.some((x) => x.event === name)) && e.filter((x) => x.event === 'caller.denied').length >= 2
          ? e
          : undefined
      })

      const of = (account: string) => entries.filter((e) => e.account === account).map(strip)
      assert.deepEqual(
        of('acct-ok').filter((e) => e.event !== 'caller.denied'),
        [
          row('account.imported', { account: 'acct-ok', request_id: 'req-import', outcome: 'created' }),
          row('account.refreshed', { account: 'acct-ok', request_id: 'req-access', outcome: 'success', detail: 'rotated' }),
          row('token.issued', { account: 'acct-ok', request_id: 'req-access', outcome: 'success' }),
          row('token.issued', { account: 'acct-ok', request_id: 'req-access-2', outcome: 'success' }),
        ],
      )
      assert.deepEqual(
        of('acct-dead').map((e) => [e.event, e.outcome, e.detail, e.request_id]),
        [
          ['account.imported', 'created', null, of('acct-dead')[0]!.request_id],
          ['account.refresh_failed', 'invalid_grant', 'invalid_grant', 'req-dead'],
          ['account.reauth_required', null, 'REFRESH_TOKEN_INVALID', 'req-dead'],
          ['account.imported', 'replaced', null, 'req-recover'],
          ['account.recovered', 'imported', null, 'req-recover'],
        ],
      )
      assert.deepEqual(
        of('acct-flaky').map((e) => [e.event, e.outcome]),
        [
          ['account.imported', 'created'],
          ['account.refresh_failed', 'transient'],
          ['token.issued', 'success'],
        ],
      )
      assert.deepEqual(
        of('acct-reuse').map((e) => [e.event, e.outcome, e.detail]),
        [
          ['account.imported', 'created', null],
          ['account.reuse_detected', 'wiped', null],
          ['account.reauth_required', null, 'TOKEN_REUSE_DETECTED'],
        ],
      )
      assert.deepEqual(
        of('acct-link').map((e) => [e.event, e.outcome]),
        [
          ['account.link_started', 'started'],
          ['account.linked', 'created'],
          ['account.revoked', 'not_supported'],
        ],
      )
      const denied = entries.filter((e) => e.event === 'caller.denied').map(strip)
      assert.deepEqual(denied, [
        row('caller.denied', { provider: null, request_id: denied[0]!.request_id, outcome: '403', detail: '/accounts' }),
        row('caller.denied', {
          provider: null,
          sub: 'svc-other',
          account: 'acct-ok',
          request_id: 'req-outsider',
          outcome: '403',
          detail: '/tokens/:account/access',
        }),
      ])
      const times = entries.map((e) => Date.parse(e.time))
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        'oldest first',
      )

      // No token, code, state or caller JWT anywhere: in the raw stream, the API, or the logs.
      assert.ok(secrets.values.size >= 20, `${secrets.values.size} secrets used`)
      if (kind === 'redis') {
        const raw = new Redis(redis.port, '127.0.0.1')
        t.after(() => raw.quit())
        const stream = await raw.xrange(keySpace(prefix).audit, '-', '+')
        assert.equal(stream.length, entries.length)
        assertNoSecrets(JSON.stringify(stream), secrets.values, 'the Redis audit stream')
      }
      assertNoSecrets(JSON.stringify(await allAuditEntries(app)), secrets.values, 'the audit trail')
      assertNoSecrets(JSON.stringify(entries), secrets.values, 'GET /audit')
      assertNoSecrets(logs.text, secrets.values, 'the logs')

      // Filters, since and pagination
      assert.deepEqual((await read('?event=account.recovered')).entries.map(strip), [
        row('account.recovered', { account: 'acct-dead', request_id: 'req-recover', outcome: 'imported' }),
      ])
      assert.deepEqual(
        (await read('?account=acct-dead&event=account.imported')).entries.map((e) => e.outcome),
        ['created', 'replaced'],
      )
      const pivot = entries[7]!
      const since = await read(`?since=${encodeURIComponent(pivot.time)}&limit=500`)
      assert.deepEqual(
        since.entries,
        entries.filter((e) => Date.parse(e.time) >= Date.parse(pivot.time)),
      )
      const paged: AuditEntry[] = []
      let cursor: string | null = null
      do {
        const page = await read(`?limit=4${cursor ? `&cursor=${cursor}` : ''}`)
        assert.ok(page.entries.length <= 4)
        paged.push(...page.entries)
        cursor = page.next_cursor
      } while (cursor)
      assert.deepEqual(paged.slice(0, entries.length), entries)
    })

    test('GET /audit: scope, the accounts claim, and validation', async (t) => {
      const stub = await startStubProvider()
      const { app } = await brokerFor(stub, { redis: kind === 'redis' ? redis : undefined })
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      const secrets = new Secrets()
      scriptedProvider(stub, secrets)
      for (const account of ['team-a.crm', 'team-a.erp', 'team-b.crm']) {
        await importAccount(app, secrets, account, { access_token: secrets.token('at'), expires_in: 3600 })
      }
      // a verified caller's 403 on a route without an account: an entry that names no account
      assert.equal(
        (await app.inject({ method: 'GET', url: '/accounts', headers: secrets.caller({ scopes: ['tokens:read'] }) })).statusCode,
        403,
      )
      const get = (url: string, headers = secrets.caller({ scopes: ['accounts:read'] })) => app.inject({ method: 'GET', url, headers })
      await waitFor('the entries', async () => ((await get('/audit')).json().entries.length === 4 ? true : undefined))

      const teamA = secrets.caller({ scopes: ['accounts:read'], accounts: ['team-a.*'] })
      const seen = (await get('/audit', teamA)).json()
      assert.deepEqual(
        seen.entries.map((e: AuditEntry) => e.account),
        ['team-a.crm', 'team-a.erp'],
      )
      assert.equal(seen.next_cursor, null)
      assert.deepEqual(
        (await get('/audit?account=team-a.erp', teamA)).json().entries.map((e: AuditEntry) => e.account),
        ['team-a.erp'],
      )
      const forbidden = await get('/audit?account=team-b.crm', teamA)
      assert.equal(forbidden.statusCode, 403)
      assert.equal(forbidden.json().code, 'FORBIDDEN')
      const none = await get('/audit', secrets.caller({ scopes: ['accounts:read'], accounts: [] }))
      assert.deepEqual(none.json(), { entries: [], next_cursor: null })

      assert.equal((await get('/audit', secrets.caller({ scopes: ['tokens:read', 'accounts:write'] }))).statusCode, 403)
      assert.equal((await app.inject({ method: 'GET', url: '/audit' })).statusCode, 401)
      for (const query of [
        'limit=0',
        'limit=501',
        'event=account.deleted',
        'since=yesterday',
        'account=bad%20id',
        'cursor=!!',
        'extra=1',
        'cursor=bm9wZQ',
      ]) {
        const res = await get(`/audit?${query}`)
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`)
        assert.equal(res.json().code, 'VALIDATION_ERROR')
      }
    })

    test('token.issued is audited only with AUDIT_ACCESS=true, and always counted in metrics', async (t) => {
      const stub = await startStubProvider()
      const { app } = await brokerFor(stub, { redis: kind === 'redis' ? redis : undefined })
      t.after(async () => {
        await app.close()
        await stub.close()
      })
      const secrets = new Secrets()
      scriptedProvider(stub, secrets)
      await importAccount(app, secrets, 'quiet', { access_token: secrets.token('at'), expires_in: 3600 })
      for (let i = 0; i < 3; i++) assert.equal((await access(app, secrets, 'quiet')).statusCode, 200)
      // A later event in the trail means any token.issued before it would be there too (appends keep their order).
      assert.equal(
        (await app.inject({ method: 'GET', url: '/accounts', headers: secrets.caller({ scopes: ['tokens:read'] }) })).statusCode,
        403,
      )
      const events = await waitFor('the 403', async () => {
        const all = await allAuditEntries(app)
        return all.some((e) => e.event === 'caller.denied') ? all : undefined
      })
      assert.deepEqual(
        events.map((e) => e.event),
        ['account.imported', 'caller.denied'],
      )
      const metrics = await app.metrics.registry.metrics()
      assert.match(metrics, /access_tokens_issued_total\{provider="stub"\} 3/)
    })
  })
}

test('a store outage never fails the request that emitted an event: a warning names the event only', async (t) => {
  const own = await startRedis()
  t.after(() => own.dispose())
  const stub = await startStubProvider()
  const { app, logs } = await brokerFor(stub, { redis: own })
  t.after(async () => {
    await app.close()
    await stub.close()
  })
  await own.stop()
  const forged = callerToken({ scopes: ['tokens:read'] })
  const res = await app.inject({ method: 'GET', url: '/accounts', headers: { authorization: `Bearer ${forged}` } })
  assert.equal(res.statusCode, 403)
  const warning = await waitFor('the warning', () => logs.lines.find((l) => l.includes('audit entry not written')))
  const parsed = JSON.parse(warning) as Record<string, unknown>
  assert.equal(parsed.event, 'caller.denied')
  assert.equal(parsed.level, 40)
  assert.ok(!logs.text.includes(forged))
})
