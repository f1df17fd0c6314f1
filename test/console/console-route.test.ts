import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { test } from 'node:test'
import { bearer, testApp } from '../helpers/app.js'
import { loopbackProviders } from '../helpers/providers-file.js'
import { assertError } from '../http/support.js'

const CSP =
  "default-src 'none';script-src 'self';style-src 'self';connect-src 'self';img-src 'self';base-uri 'none';form-action 'self';frame-ancestors 'none'"
const CONSOLE_DIR = new URL('../../src/console/', import.meta.url)

test('GET /console: the page, with a strict CSP and no inline script or style', async (t) => {
  const { app } = await testApp({ providers: loopbackProviders() })
  t.after(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/console?account=crm&status=linked' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  assert.equal(res.headers['content-security-policy'], CSP)
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.equal(res.headers['referrer-policy'], 'no-referrer')
  assert.equal(res.headers['x-frame-options'], 'DENY')
  assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)/i, 'every script has a src')
  assert.doesNotMatch(res.body, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handler')
  assert.doesNotMatch(res.body, /https?:\/\//, 'nothing from another origin (no CDN, no font)')
  assertError(await app.inject({ method: 'GET', url: '/console?token=abc' }), 400, 'VALIDATION_ERROR')
})

test('GET /console/:asset serves every file of src/console with its type, and nothing else', async (t) => {
  const { app } = await testApp({ providers: loopbackProviders() })
  t.after(() => app.close())
  const files = readdirSync(CONSOLE_DIR).filter((f) => f !== 'index.html')
  assert.ok(files.length >= 5, files.join())
  for (const file of files) {
    const res = await app.inject({ method: 'GET', url: `/console/${file}` })
    assert.equal(res.statusCode, 200, file)
    const type = { css: 'text/css', js: 'text/javascript', svg: 'image/svg+xml' }[file.split('.').pop()!]
    assert.equal(res.headers['content-type'], `${type}; charset=utf-8`, file)
    assert.equal(res.headers['content-security-policy'], CSP, file)
    assert.doesNotMatch(res.body.replace('http://www.w3.org/2000/svg', ''), /https?:\/\//, `${file} loads nothing from another origin`)
    if (file.endsWith('.js'))
      assert.doesNotMatch(res.body, /innerHTML|insertAdjacentHTML|document\.write|eval\(/, `${file} builds no HTML from strings`)
  }
  assertError(await app.inject({ method: 'GET', url: '/console/missing.js' }), 404, 'NOT_FOUND')
  assertError(await app.inject({ method: 'GET', url: '/console/..%2fapp.ts' }), 400, 'VALIDATION_ERROR')
})

test("return_to the broker's own console is allowed without RETURN_TO_ALLOWLIST; other places are not", async (t) => {
  const { app } = await testApp({ providers: loopbackProviders(), env: { PUBLIC_URL: 'https://broker.example.test' } })
  t.after(() => app.close())
  const connect = (returnTo: string) =>
    app.inject({ method: 'POST', url: '/connect/acme', headers: bearer(), payload: { account: 'crm', return_to: returnTo } })
  assert.equal((await connect('https://broker.example.test/console')).statusCode, 201)
  assertError(await connect('https://elsewhere.example.test/console'), 400, 'VALIDATION_ERROR')
  assertError(await connect('https://broker.example.test/accounts'), 400, 'VALIDATION_ERROR')
})
