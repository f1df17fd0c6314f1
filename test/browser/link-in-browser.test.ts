import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bearer, listen, testApp } from '../helpers/app.js'
import { NO_CHROMIUM, launchBrowser } from '../helpers/browser.js'
import { startOidcProvider } from '../helpers/oidc-provider.js'
import { oidcProvider } from '../helpers/providers-file.js'
import { freePort } from '../helpers/redis-server.js'

test('an admin links an account in a real browser and sees the success page', { timeout: 90_000, skip: NO_CHROMIUM }, async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const op = await startOidcProvider({ redirectUri: `${publicUrl}/connect/callback` })
  t.after(() => op.close())
  const { app } = await testApp({ providers: { acme: oidcProvider(op) }, env: { PUBLIC_URL: publicUrl }, t })
  await listen(app, port)

  const started = await app.inject({ method: 'POST', url: '/connect/acme', headers: bearer(), payload: { account: 'browser-demo' } })
  assert.equal(started.statusCode, 201)

  const browser = await launchBrowser()
  t.after(() => browser.close())
  const page = await browser.context.newPage()
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
