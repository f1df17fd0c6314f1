import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { freePort, startRedis } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait.js'
import { envExample, ROOT, runtimeStage } from './files.js'

/**
 * No docker engine here: the image is rebuilt as a directory (compiled output, package.json,
 * node_modules, the COPYed files) and its CMD and HEALTHCHECK run there, with the environment
 * compose gives it (Redis is a real redis-server instead of the compose service).
 */
test("the image's start command serves and passes its healthcheck with the .env.example settings", async (t) => {
  const app = mkdtempSync(join(tmpdir(), 'tb-image-'))
  t.after(() => rmSync(app, { recursive: true, force: true }))
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')])
  // The rest of `npm run build` (the Dockerfile's build step): the console's static files.
  cpSync(join(ROOT, 'src/console'), join(app, 'dist/src/console'), { recursive: true })
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'))
  const stage = runtimeStage()
  for (const [source, target] of stage.copies) copyFileSync(join(ROOT, source), join(app, target))

  const redis = await startRedis()
  t.after(() => redis.stop())
  const port = await freePort()
  const env = {
    PATH: process.env.PATH ?? '',
    ...stage.env,
    ...envExample().values,
    ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 6).toString('base64')}`,
    AUTH_JWT_SECRET: 'image-test-secret-0123456789abcdef',
    REDIS_URL: redis.url,
    PORT: String(port),
    PROVIDERS_FILE: join(app, 'providers.yaml'),
  }
  const [command, ...args] = stage.cmd
  assert.equal(command, 'node')
  const child = spawn(process.execPath, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.after(async () => {
    child.kill('SIGTERM')
    await exited
  })

  await waitFor('the broker to listen', () => (out.includes('Server listening') ? true : undefined), { timeoutMs: 120_000 })
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
  assert.deepEqual([ready.status, await ready.json()], [200, { status: 'ready' }])
  assert.match(
    out,
    /"msg":"provider \\"github\\" in [^"]+providers.yaml is skipped: none of GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET is set"/,
  )

  const healthcheck = stage.healthcheck.match(/^node -e "(.*)"$/)?.[1]
  assert.ok(healthcheck, stage.healthcheck)
  const check = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, ['-e', healthcheck], { env: { PORT: String(port) }, stdio: 'ignore' }).once('exit', resolve)
  })
  assert.equal(check, 0, 'the HEALTHCHECK command passes')
})
