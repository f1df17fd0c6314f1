import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { freePort } from '../helpers/redis-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

test('npm run demo starts a broker and a provider and prints working steps', async (t) => {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => { child.kill('SIGTERM') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not print its steps:\n${out}`)), 120_000)
    child.stdout.on('data', () => { if (out.includes('Waiting for the account to be linked')) { clearTimeout(timer); resolve() } })
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`demo exited:\n${out}`)) })
  })
  const authorizationUrl = /^\s+(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m.exec(out)?.[1]
  const token = /export TB_TOKEN=(\S+)/.exec(out)?.[1]
  assert.ok(authorizationUrl, out)
  assert.ok(token, out)
  assert.equal(new URL(authorizationUrl).searchParams.get('redirect_uri'), `http://localhost:${port}/connect/callback`)
  // The provider's login page is there, and the printed token works against the broker.
  assert.equal((await fetch(authorizationUrl, { redirect: 'manual' })).status, 303)
  const account = await fetch(`http://127.0.0.1:${port}/accounts/demo`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(account.status, 404)
  assert.equal((await account.json() as { code: string }).code, 'ACCOUNT_NOT_FOUND')
})
