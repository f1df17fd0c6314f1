import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const ROOT = new URL('../../', import.meta.url).pathname
const CLIENT_DIR = join(ROOT, 'src/client')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>
  files: string[]
  scripts: Record<string, string>
}

test('the client imports nothing but its own files: no runtime dependency, no Node-only module', () => {
  for (const file of readdirSync(CLIENT_DIR)) {
    const source = readFileSync(join(CLIENT_DIR, file), 'utf8')
    for (const [, specifier] of source.matchAll(/\bfrom\s+'([^']+)'/g)) {
      assert.match(specifier!, /^\.\/[a-z-]+\.js$/, `${file} imports ${specifier}`)
    }
  }
})

test('package.json exports token-broker/client from the build, with types, and ships the console files', () => {
  assert.deepEqual(pkg.exports['./client'], { types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' })
  assert.ok(pkg.files.includes('dist'))
  assert.match(pkg.scripts.build!, /cpSync\('src\/console', 'dist\/src\/console'/)
  const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { declaration: boolean } }
  assert.equal(build.compilerOptions.declaration, true)
})

test('compiled on its own, the client runs on plain Node and declares its types', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tb-client-build-'))
  t.after(() => rmSync(out, { recursive: true, force: true }))
  await promisify(execFile)(
    join(ROOT, 'node_modules/.bin/tsc'),
    [
      join(CLIENT_DIR, 'index.ts'),
      '--outDir',
      out,
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--strict',
      '--declaration',
      '--skipLibCheck',
      '--types',
      'node',
    ],
    { cwd: ROOT },
  )
  assert.match(readFileSync(join(out, 'index.d.ts'), 'utf8'), /TokenBrokerClient/)
  const mod = (await import(pathToFileURL(join(out, 'index.js')).href)) as typeof import('../../src/client/index.js')
  const client = new mod.TokenBrokerClient({ baseUrl: 'http://127.0.0.1:9', token: 'x', timeoutMs: 5000 })
  await assert.rejects(client.getToken('a'), (e: unknown) => e instanceof mod.TokenBrokerError && e.code === 'BROKER_UNREACHABLE')
})

test('the complete example of docs/client.md type-checks against the client', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs/client.md'), 'utf8')
  const example = /## A complete example\n\n```ts\n([\s\S]*?)```/.exec(doc)?.[1]
  assert.ok(example, 'docs/client.md has a complete example')
  const dir = mkdtempSync(join(tmpdir(), 'tb-client-example-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'example.mts') // an ES module wherever it lies
  writeFileSync(file, example.replace("'token-broker/client'", `'${join(CLIENT_DIR, 'index.js')}'`))
  await promisify(execFile)(
    join(ROOT, 'node_modules/.bin/tsc'),
    [
      file,
      '--noEmit',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--strict',
      '--skipLibCheck',
      '--types',
      'node',
      '--typeRoots',
      join(ROOT, 'node_modules/@types'),
    ],
    { cwd: ROOT },
  ).catch((error: { stdout: string }) => assert.fail(`the example does not type-check:\n${error.stdout}`))
})
