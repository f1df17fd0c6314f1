import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { cli } from './run-cli.js'

const SECRET = 'cli-test-secret-0123456789abcdef01234567'
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>

describe('cli usage', { concurrency: true }, () => {
  test('--help of every command answers its usage and the exit codes, exit 0', async () => {
    for (const args of [['token', '--help'], ['keys', '--help'], ['keys', 'generate', '-h'], ['--help'], []]) {
      const run = await cli(args)
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
      assert.equal(run.stderr, '')
      assert.match(run.stdout, /^Usage: token-broker /)
      assert.match(run.stdout, /Exit codes:\n {2}0 {2}success\n {2}1 .*\n {2}2 {2}bad usage.*\n {2}3 {2}configuration error/)
    }
    assert.match((await cli(['token', '--help'])).stdout, /--sub NAME[\s\S]*--accounts LIST[\s\S]*--ttl SECONDS/)
    assert.match((await cli(['keys', '--help'])).stdout, /^Usage: token-broker keys generate \[--id KEYID\]/)
  })

  test('--version prints the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const run = await cli([flag])
      assert.deepEqual(run, { code: 0, stdout: `${VERSION}\n`, stderr: '' })
    }
  })

  test('unknown, extra and repeated arguments are refused with one clear line and exit 2', async () => {
    const env = { AUTH_JWT_SECRET: SECRET }
    const cases: [string[], string][] = [
      [['frobnicate'], 'token-broker: unknown command "frobnicate" (see token-broker --help)'],
      [['--frob'], 'token-broker: unknown option --frob (see token-broker --help)'],
      [['--version', 'x'], 'token-broker: unexpected argument "x" (see token-broker --help)'],
      [['token', 'tokens:read', '--admin', 'yes'], 'token-broker: token: unknown option --admin (see token-broker token --help)'],
      [['token', 'tokens:read', '--sub'], 'token-broker: token: --sub needs a value (see token-broker token --help)'],
      [
        ['token', 'tokens:read', '--sub', 'a', '--sub', 'b'],
        'token-broker: token: --sub is given more than once (see token-broker token --help)',
      ],
      [
        ['token', 'tokens:read', '--ttl=5', '--ttl', '6'],
        'token-broker: token: --ttl is given more than once (see token-broker token --help)',
      ],
      [
        ['token', 'tokens:write'],
        'token-broker: token: unknown scope "tokens:write" (one of: tokens:read, tokens:revoke, accounts:read, accounts:write) (see token-broker token --help)',
      ],
      [
        ['token', 'tokens:read', '--ttl', '1e3'],
        'token-broker: token: --ttl must be whole seconds, 1 to 2678400 (see token-broker token --help)',
      ],
      [['keys', 'generate', 'now'], 'token-broker: keys: unexpected argument "now" (see token-broker keys --help)'],
      [
        ['keys', 'rotate'],
        'token-broker: keys: unknown subcommand "rotate" (one of: generate, status, reseal) (see token-broker keys --help)',
      ],
      [['keys', 'generate', '--id', 'a', '--id', 'b'], 'token-broker: keys: --id is given more than once (see token-broker keys --help)'],
    ]
    const runs = await Promise.all(cases.map(([args]) => cli(args, env)))
    for (const [i, [args, line]] of cases.entries()) assert.deepEqual(runs[i], { code: 2, stdout: '', stderr: `${line}\n` }, args.join(' '))
  })

  test('a missing AUTH_JWT_SECRET is a configuration error: exit 3', async () => {
    const run = await cli(['token', 'tokens:read'])
    assert.deepEqual(run, {
      code: 3,
      stdout: '',
      stderr:
        'token-broker: configuration error: AUTH_JWT_SECRET is required to mint a token (the broker verifies callers with the same secret)\n',
    })
  })

  test('a scope or account named twice counts once', async () => {
    const run = await cli(['token', 'tokens:read', 'accounts:read', 'tokens:read', '--accounts', 'a,b*,a'], { AUTH_JWT_SECRET: SECRET })
    assert.equal(run.code, 0, run.stderr)
    const payload = payloadOf(run.stdout.trim())
    assert.equal(payload.scope, 'tokens:read accounts:read')
    assert.deepEqual(payload.accounts, ['a', 'b*'])
  })
})
