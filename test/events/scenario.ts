import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { ACCESS_FIELD, REFRESH_FIELD } from '../../src/broker/secrets.js'
import { callerToken, type TokenOptions, keyRingOf } from '../helpers/app.js'
import { importGrant } from '../helpers/grants.js'
import { json, type StubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Every value in this file that must never reach the audit trail or a webhook: tokens the
 * broker imported or got from the provider, authorization codes, link states, caller JWTs.
 */
export class Secrets {
  readonly values = new Set<string>()
  token(label: string): string {
    const value = `${label}-${randomBytes(16).toString('base64url')}`
    this.values.add(value)
    return value
  }
  add(value: string): string {
    this.values.add(value)
    return value
  }
  /** Caller headers with a fresh JWT (remembered) and a request id. */
  caller(o: TokenOptions = {}, requestId?: string): Record<string, string> {
    const jwt = this.add(callerToken({ sub: 'svc-audit', ...o }))
    return { authorization: `Bearer ${jwt}`, ...(requestId ? { 'x-request-id': requestId } : {}) }
  }
}

/**
 * A stub token endpoint: codes and most refresh tokens get fresh tokens; a refresh token
 * starting with `rt-dead` is invalid_grant, `rt-flaky` a 503, `rt-gated` waits for `open()`.
 */
export function scriptedProvider(stub: StubProvider, secrets: Secrets) {
  let open!: () => void
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  stub.handle('/token', async (req, res) => {
    const rt = req.body.refresh_token ?? ''
    if (rt.startsWith('rt-dead')) return json(res, 400, { error: 'invalid_grant', error_description: 'revoked' })
    if (rt.startsWith('rt-flaky')) return json(res, 503, { error: 'temporarily_unavailable' })
    if (rt.startsWith('rt-gated')) await gate
    json(res, 200, {
      access_token: secrets.token('at-issued'),
      refresh_token: secrets.token('rt-issued'),
      token_type: 'bearer',
      expires_in: 3600,
    })
  })
  return { open: () => open() }
}

/** importGrant as a caller whose JWT is one of the secrets. */
export const importAccount = (app: FastifyInstance, secrets: Secrets, account: string, body: Record<string, unknown>, requestId?: string) =>
  importGrant(app, account, body, secrets.caller({}, requestId))

export const access = (app: FastifyInstance, secrets: Secrets, account: string, requestId?: string) =>
  app.inject({ method: 'GET', url: `/tokens/${account}/access`, headers: secrets.caller({}, requestId) })

/** POST /connect then the provider's redirect back to /connect/callback, as a browser would. */
export async function link(app: FastifyInstance, secrets: Secrets, account: string) {
  const started = await app.inject({ method: 'POST', url: '/connect/stub', headers: secrets.caller(), payload: { account } })
  assert.equal(started.statusCode, 201, started.body)
  const state = secrets.add(started.json().state as string)
  const code = secrets.token('code')
  const back = await app.inject({
    method: 'GET',
    url: `/connect/callback?state=${state}&code=${code}`,
    headers: { accept: 'application/json' },
  })
  assert.equal(back.statusCode, 200, back.body)
}

/** Makes the account's stored refresh token get used twice (as by a second deployment): reuse detected. */
export async function reuse(app: FastifyInstance, secrets: Secrets, stub: StubProvider, account: string, open: () => void) {
  await importAccount(app, secrets, account, {
    access_token: secrets.token('at-reuse'),
    refresh_token: secrets.token('rt-gated'),
    expires_in: 10,
  })
  const before = stub.count('/token')
  const slow = access(app, secrets, account) // holds the lock, waits at the provider
  await waitFor('the gated refresh to reach the provider', () => (stub.count('/token') > before ? true : undefined))
  // Meanwhile another instance refreshed from the same grant and committed first.
  const store = app.storage.grants
  const keyRing = keyRingOf(app)
  const grant = (await store.getGrant(account))!
  const now = Date.now()
  assert.ok(
    await store.commitRefresh(
      account,
      grant.version,
      {
        accessToken: keyRing.seal(account, ACCESS_FIELD, secrets.token('at-other')),
        refreshToken: keyRing.seal(account, REFRESH_FIELD, secrets.token('rt-other')),
        expiresAt: now + 3_600_000,
        tokenType: 'Bearer',
        scope: null,
        meta: null,
      },
      now,
    ),
  )
  open()
  const res = await slow
  assert.equal(res.statusCode, 409, res.body)
}
