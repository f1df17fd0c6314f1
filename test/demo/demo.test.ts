import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/redis-server.js'
import { within } from '../helpers/wait.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Runs `npm run demo`'s program (scripts/demo.ts) with a bare environment until it exits. */
async function demo(port: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve))
  try {
    return { code: await within('the demo to finish', closed, 120_000), stdout, stderr }
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${(error as Error).message}:\n${stdout}\n${stderr}`)
  }
}

test('npm run demo -- --headless links the demo account, hands out a token and refreshes it', async () => {
  const port = await freePort()
  const run = await demo(port, ['--headless'])
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
  assert.equal(run.stderr, '')
  assert.match(run.stdout, /export TB_TOKEN=[\w-]+\.[\w-]+\.[\w-]+\n/)
  assert.match(run.stdout, /The link is single-use and lives 10 minutes\./)
  assert.match(run.stdout, /\(--headless: signed in as demo-user\) 200 \{"account":"demo","provider":"demo","status":"linked",/)
  assert.match(run.stdout, /GET \/tokens\/demo\/access -> 200\n {3}handed out: Bearer \S+ \(\d+ characters\), expires in \d+ s/)
  assert.match(run.stdout, /refreshed: Bearer \S+ \(\d+ characters\), expires in \d+ s \(a new token\)/)
  assert.match(run.stdout, /Done \(--headless\)\.\n$/)
})

test('npm run demo on a taken port says so in one line and exits 1', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.after(() => taken.close())
  const port = (taken.address() as { port: number }).port
  const run = await demo(port, ['--headless'])
  assert.deepEqual(run, {
    code: 1,
    stdout: '',
    stderr: `token-broker demo: port ${port} is already in use; run it on another one: PORT=${port + 1} npm run demo\n`,
  })
})
