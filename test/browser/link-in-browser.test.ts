import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { chromium } from 'playwright-core'
import { bearer, testApp, testConfig } from '../helpers/app.js'
import { startOidcProvider } from '../helpers/oidc-provider.js'
import { writeProvidersFile } from '../helpers/providers-file.js'
import { freePort } from '../helpers/redis-server.js'

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic']

test('an admin links an account in a real browser and sees the success page', { timeout: 90_000, skip: !existsSync(CHROMIUM) && 'Chromium is not installed' }, async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const op = await startOidcProvider({ redirectUri: `${publicUrl}/connect/callback` })
  t.after(() => op.close())
  const providersFile = writeProvidersFile({
    acme: { template: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret },
  })
  const { app } = await testApp(testConfig({ PROVIDERS_FILE: providersFile, PUBLIC_URL: publicUrl }))
  t.after(() => app.close())
  await app.storage.connect()
  await app.listen({ port, host: '127.0.0.1' })

  const started = await app.inject({ method: 'POST', url: '/connect/acme', headers: bearer(), payload: { account: 'browser-demo' } })
  assert.equal(started.statusCode, 201)

  const profile = mkdtempSync(join(tmpdir(), 'tb-chromium-'))
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS })
  t.after(async () => {
    await browser.close()
    rmSync(profile, { recursive: true, force: true, maxRetries: 5 })
  })
  const page = await browser.newPage()
  await page.goto(started.json().authorization_url)

  // The provider's own login page, then its consent page.
  await page.locator('input[name="login"]').fill('alice')
  await page.locator('input[name="password"]').fill('any-password')
  await Promise.all([page.waitForLoadState(), page.locator('button[type="submit"], input[type="submit"]').first().click()])
  await page.locator('button[type="submit"], input[type="submit"]').first().click()
  await page.waitForURL(`${publicUrl}/connect/callback?**`)

  assert.equal(await page.locator('h1').textContent(), 'Account linked')
  const text = await page.locator('body').innerText()
  assert.match(text, /Account browser-demo is now linked with acme\./)
  const token = (await app.inject({ method: 'GET', url: '/tokens/browser-demo/access', headers: bearer() })).json().access_token
  assert.equal(typeof token, 'string')
  assert.ok(!(await page.content()).includes(token), 'the page shows no token')
  assert.equal((await op.userinfo(token)).status, 200)
})
