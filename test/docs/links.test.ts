import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && existsSync(join(ROOT, f)) && !/\.(png|jpg|ico)$|package-lock\.json$/.test(f))
const OUTSIDE = ['..', 'shared'].join('/')

test('nothing in the repository points outside it', () => {
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    assert.ok(!text.includes(OUTSIDE), `${file} mentions ${OUTSIDE}`)
    if (!file.endsWith('.md')) continue
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      const path = relative(ROOT, resolve(ROOT, dirname(file), target!))
      assert.ok(!path.startsWith('..'), `${file} links outside the repository: ${target}`)
      assert.ok(existsSync(join(ROOT, path)), `${file} links to a missing ${path}`)
    }
  }
})

test('the README starts with the demo, then the tests', () => {
  const block = /```sh\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))?.[1] ?? ''
  const commands = block
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('#')[0]!.trim())
  assert.deepEqual(commands, ['npm ci && npm run demo', 'npm test'])
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  assert.equal(scripts.demo, 'tsx scripts/demo.ts', 'test/demo/demo.test.ts runs this program')
})

test('docs/ holds the contract, the design, operations and calling; guarantees are numbered', () => {
  for (const doc of ['api', 'design', 'operations', 'calling']) assert.ok(existsSync(join(ROOT, `docs/${doc}.md`)), `docs/${doc}.md`)
  const api = readFileSync(join(ROOT, 'docs/api.md'), 'utf8')
  const guarantees = api.slice(api.indexOf('## Guarantees'))
  for (let n = 1; n <= 7; n++) assert.match(guarantees, new RegExp(`^${n}\\. \\*\\*`, 'm'), `guarantee ${n}`)
})
