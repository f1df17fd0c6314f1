/**
 * `token-broker connect` against a real broker (listener, Redis) and a real authorization
 * server, whose login and consent the harness answers headless.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { run } from '../../src/cli-commands/connect.js'
import { TEST_JWT_SECRET, listen, testApp } from '../helpers/app.js'
import { startOidcProvider, type OidcServer } from '../helpers/oidc-provider.js'
import { oidcProvider } from '../helpers/providers-file.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { freePort } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait.js'
import { captureIo } from './command-io.js'

describe('token-broker connect', { timeout: 120_000 }, () => {
  const redis = new RedisFixture()
  let op: OidcServer
  let app: FastifyInstance
  let env: Record<string, string>

  before(async () => {
    const port = await freePort()
    const publicUrl = `http://127.0.0.1:${port}`
    op = await startOidcProvider({ redirectUri: `${publicUrl}/connect/callback` })
    const server = await redis.get()
    app = (
      await testApp({
        providers: { acme: oidcProvider(op) },
        redis: server,
        env: { PUBLIC_URL: publicUrl, PROACTIVE_REFRESH: 'false' },
      })
    ).app
    await listen(app, port)
    env = { AUTH_JWT_SECRET: TEST_JWT_SECRET, PUBLIC_URL: publicUrl }
  })
  after(async () => {
    await app?.close()
    await op?.close()
    await redis.dispose()
  })

  /** Starts the command; resolves with the authorization URL it printed and the running command. */
  async function start(args: string[]) {
    const cap = captureIo(env)
    let settled = false
    const exit = run(args, cap.io).finally(() => {
      settled = true
    })
    const url = await waitFor('the authorization URL', () => /^(http\S+)$/m.exec(cap.stdout.text)?.[1] ?? (settled ? null : undefined))
    assert.ok(url, `no URL; stderr: ${cap.stderr.text}`)
    await waitFor('the progress line', () => (cap.stderr.text.includes('waiting for the provider…') ? true : undefined))
    return { ...cap, url, exit, settled: () => settled }
  }

  /** The browser's part: login and consent at the provider, then the redirect to the broker's callback. */
  async function authorize(url: string, o: { deny?: boolean } = {}): Promise<number> {
    const callback = await op.authorize(url, o)
    const res = await fetch(callback, { headers: { accept: 'text/html' }, redirect: 'manual' })
    await res.body?.cancel()
    return res.status
  }

  test('prints the URL, waits with a progress line, and exits 0 once the account is linked', async () => {
    const cli = await start(['acme', 'cli-linked'])
    assert.match(cli.stdout.text, /^Open this URL in a browser to link cli-linked with acme:\n\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?\S+\n\n$/)
    assert.match(cli.stderr.text, /^waiting for the provider… 0:0\d elapsed, (9:5\d|10:00) left\n/)
    assert.equal(cli.settled(), false, 'still waiting')
    assert.equal(await authorize(cli.url), 200)
    assert.equal(await cli.exit, 0, cli.stderr.text)
    assert.match(cli.stdout.text, /\nLinked cli-linked with acme \(scope: [^)]+\)\.\n$/)
    assert.equal(op.grantCounts.authorization_code, 1)
  })

  test('relinking an existing account waits for the new link, not the old one', async () => {
    const cli = await start(['acme', 'cli-linked'])
    assert.equal(cli.settled(), false, 'the earlier link does not count')
    assert.equal(await authorize(cli.url), 200)
    assert.equal(await cli.exit, 0, cli.stderr.text)
    assert.match(cli.stdout.text, /Linked cli-linked with acme/)
  })

  test('exits 1 with a clear message when the provider refuses', async () => {
    const cli = await start(['acme', 'cli-denied'])
    assert.equal(await authorize(cli.url, { deny: true }), 400)
    assert.equal(await cli.exit, 1)
    assert.match(cli.stderr.text, /\ntoken-broker: the provider did not authorize the link \(access_denied\)\n$/)
    assert.equal((await app.inject({ method: 'GET', url: '/accounts/cli-denied', headers: { authorization: `Bearer x` } })).statusCode, 401)
  })

  test('exits 1 when the link expires', async () => {
    const cli = await start(['acme', 'cli-expired'])
    cli.skipMs(10 * 60 * 1000)
    assert.equal(await cli.exit, 1)
    assert.match(cli.stderr.text, /token-broker: the link expired before the provider sent the browser back; run connect again\n$/)
  })

  test('an unknown provider and bad usage', async () => {
    const unknown = captureIo(env)
    assert.equal(await run(['nope', 'cli-x'], unknown.io), 1)
    assert.match(unknown.stderr.text, /^token-broker: POST \/connect\/nope failed \(PROVIDER_NOT_FOUND: Provider nope not found\)\n$/)
    for (const args of [['acme'], ['acme', 'bad id'], ['Acme!', 'x'], ['acme', 'x', 'y'], ['acme', 'x', '--nope']]) {
      const bad = captureIo(env)
      assert.equal(await run(args, bad.io), 2, args.join(' '))
      assert.equal(bad.stdout.text, '')
      assert.match(bad.stderr.text, /^token-broker: /)
    }
  })
})
