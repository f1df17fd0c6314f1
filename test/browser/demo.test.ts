import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

test('npm run demo starts a broker and a provider and prints working steps', async (t) => {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => {
    child.kill('SIGTERM')
  })
  let out = ''
  let exited = false
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.once('exit', () => {
    exited = true
  })
  const outcome = await waitFor(
    'the demo to print its steps',
    () => (out.includes('Waiting for the account to be linked') ? 'waiting' : exited ? 'exited' : undefined),
    { timeoutMs: 120_000 },
  )
  assert.equal(outcome, 'waiting', out)
  const authorizationUrl = /^\s+(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m.exec(out)?.[1]
  const token = /export TB_TOKEN=(\S+)/.exec(out)?.[1]
  assert.ok(authorizationUrl, out)
  assert.ok(token, out)
  assert.equal(new URL(authorizationUrl).searchParams.get('redirect_uri'), `http://localhost:${port}/connect/callback`)
  // The provider's login page is there, and the printed token works against the broker.
  assert.equal((await fetch(authorizationUrl, { redirect: 'manual' })).status, 303)
  const account = await fetch(`http://127.0.0.1:${port}/accounts/demo`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(account.status, 404)
  assert.equal(((await account.json()) as { code: string }).code, 'ACCOUNT_NOT_FOUND')
})
