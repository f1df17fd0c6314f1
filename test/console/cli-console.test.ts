import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { run } from '../../src/cli-commands/console.js'
import { TEST_JWT_SECRET, testApp } from '../helpers/app.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { assertError, auth, nowSeconds } from '../http/support.js'
import { captureIo } from './command-io.js'

const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
const ENV = { AUTH_JWT_SECRET: TEST_JWT_SECRET, PUBLIC_URL: 'https://broker.example.test/' }

test('console prints ${PUBLIC_URL}/console#token=... with a short-lived admin token the broker accepts', async (t) => {
  const { io, stdout, stderr } = captureIo(ENV)
  const before = nowSeconds()
  assert.equal(await run([], io), 0, stderr.text)
  const match = /^https:\/\/broker\.example\.test\/console#token=([\w-]+\.[\w-]+\.[\w-]+)\n$/.exec(stdout.text)
  assert.ok(match, stdout.text)
  const jwt = match[1]!
  const claims = payloadOf(jwt)
  assert.equal(claims.sub, 'console')
  assert.equal(claims.scope, 'accounts:read accounts:write tokens:revoke')
  assert.ok((claims.exp as number) >= before + 900 && (claims.exp as number) <= nowSeconds() + 900, 'valid for 15 minutes')
  assert.match(stderr.text, /within 15 minutes/)

  const { app } = await testApp({ providers: loopbackProviders() })
  t.after(() => app.close())
  assert.equal((await app.inject({ method: 'GET', url: '/accounts', headers: auth(jwt) })).statusCode, 200)
  assertError(await app.inject({ method: 'GET', url: '/tokens/crm/access', headers: auth(jwt) }), 403, 'FORBIDDEN')
})

test('console: --sub and --ttl, and bad usage', async () => {
  const ok = captureIo(ENV)
  assert.equal(await run(['--sub', 'alice', '--ttl', '300'], ok.io), 0)
  const claims = payloadOf(ok.stdout.text.split('#token=')[1]!.trim())
  assert.equal(claims.sub, 'alice')
  assert.equal((claims.exp as number) - (claims.iat as number), 300)
  for (const [args, env, message] of [
    [['--ttl', '1.5'], ENV, /--ttl must be whole seconds/],
    [['--ttl', '999999'], ENV, /--ttl must be whole seconds/],
    [['extra'], ENV, /console: /],
    [[], { PUBLIC_URL: 'https://x.test' }, /AUTH_JWT_SECRET must be set/],
    [[], { ...ENV, PUBLIC_URL: 'not a url' }, /PUBLIC_URL/],
  ] as const) {
    const bad = captureIo(env)
    assert.equal(await run([...args], bad.io), 2, `${args.join(' ')}: exit 2`)
    assert.equal(bad.stdout.text, '')
    assert.match(bad.stderr.text, message)
  }
})

test('the token-broker binary dispatches console and connect', async () => {
  type Run = { code: number; stdout: string; stderr: string }
  const cli = (args: string[]): Promise<Run> =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ENV },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: Run) => e,
    )
  const [consoleRun, connectRun, help] = await Promise.all([cli(['console']), cli(['connect', 'acme']), cli(['--help'])])
  assert.equal(consoleRun.code, 0, consoleRun.stderr)
  assert.match(consoleRun.stdout, /^https:\/\/broker\.example\.test\/console#token=\S+\n$/)
  assert.equal(connectRun.code, 2)
  assert.match(connectRun.stderr, /^token-broker: usage: token-broker connect <provider> <account>/)
  assert.match(help.stdout, /^ {2}console +print the admin console/m)
  assert.match(help.stdout, /^ {2}connect +link an account/m)
})
