/**
 * The admin console in Debian's Chromium against a real broker (real listener, real Redis)
 * and a real authorization server: sign-in from the fragment, list, filter, paging, linking
 * end to end, revocation, an expired token, and screenshots at 1200 px and phone width.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import { run as consoleCommand } from '../../src/cli-commands/console.js'
import { TEST_JWT_SECRET, bearer, listen, testApp, type TestApp } from '../helpers/app.js'
import { artifactPath, launchBrowser, NO_CHROMIUM } from '../helpers/browser.js'
import { importGrant } from '../helpers/grants.js'
import { startOidcProvider, type OidcServer } from '../helpers/oidc-provider.js'
import { oidcProvider, stubProvider } from '../helpers/providers-file.js'
import { RedisFixture } from '../helpers/redis-fixture.js'
import { freePort } from '../helpers/redis-server.js'
import { json, startStubProvider, type StubProvider } from '../helpers/stub-provider.js'
import { captureIo } from './command-io.js'

const ADMIN = ['accounts:read', 'accounts:write', 'tokens:revoke']

describe('the admin console in a browser', { skip: NO_CHROMIUM, timeout: 180_000 }, () => {
  const redis = new RedisFixture()
  let op: OidcServer
  let stub: StubProvider
  let broker: TestApp
  let app: FastifyInstance
  let publicUrl: string
  let browser: Awaited<ReturnType<typeof launchBrowser>>
  const urlsSeen: string[] = []
  /** What `token-broker console` prints, and the token in its fragment. */
  let consoleLink: string
  let adminToken: string

  before(async () => {
    const port = await freePort()
    publicUrl = `http://127.0.0.1:${port}`
    op = await startOidcProvider({ redirectUri: `${publicUrl}/connect/callback` })
    stub = await startStubProvider()
    stub.handle('/token', (_req, res) => json(res, 400, { error: 'invalid_grant' }))
    broker = await testApp({
      providers: { acme: oidcProvider(op), beta: stubProvider(stub) },
      redis: await redis.get(),
      env: { PUBLIC_URL: publicUrl, PROACTIVE_REFRESH: 'false' },
    })
    app = broker.app
    app.server.on('request', (req) => urlsSeen.push(req.url ?? ''))
    await listen(app, port)

    await importGrant(app, 'acme-billing', {
      provider: 'acme',
      access_token: 'a-1',
      refresh_token: 'r-1',
      expires_in: 3600,
      scope: 'openid',
    })
    await importGrant(app, 'acme-crm', { provider: 'acme', access_token: 'a-2', refresh_token: 'r-2', expires_in: 3600 })
    await importGrant(app, 'beta-dead', { provider: 'beta', access_token: 'a-3', refresh_token: 'r-3', expires_in: 0 })
    await importGrant(app, 'beta-sales', { provider: 'beta', access_token: 'a-4', expires_in: 7200 })
    // The provider refuses beta-dead's refresh token: reauth_required, with a last_error.
    assert.equal((await app.inject({ method: 'GET', url: '/tokens/beta-dead/access', headers: bearer() })).statusCode, 409)
    const cli = captureIo({ AUTH_JWT_SECRET: TEST_JWT_SECRET, PUBLIC_URL: publicUrl })
    assert.equal(await consoleCommand(['--sub', 'console-admin'], cli.io), 0, cli.stderr.text)
    consoleLink = cli.stdout.text.trim()
    adminToken = consoleLink.split('#token=')[1]!
    browser = await launchBrowser()
  })

  after(async () => {
    await browser?.close()
    await app?.close()
    await stub?.close()
    await op?.close()
    await redis.dispose()
  })

  /** A new tab (its own sessionStorage) that fails the test on any script error or CSP violation. */
  async function newTab(): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.context.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    // Only the console's own pages count (the provider's login page is not ours).
    page.on('console', (message) => {
      if (message.type() === 'error' && page.url().startsWith(publicUrl))
        problems.push(`console: ${message.text()} ${message.location().url}`)
    })
    return { page, problems }
  }

  const rowsOf = (page: Page) =>
    page.locator('table.accounts tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-account')))
  const unlabelled = (page: Page) =>
    page
      .locator('input:not([type=hidden]), select, textarea')
      .evaluateAll((els) => els.filter((e) => (e as HTMLInputElement).labels?.length === 0).map((e) => e.outerHTML))

  test('signs in from the fragment, lists every account with its details, filters and pages', async () => {
    const { page, problems } = await newTab()
    await page.goto(consoleLink)
    await page.locator('table.accounts').waitFor()
    assert.equal(page.url(), `${publicUrl}/console`, 'the fragment is cleared from the address bar')
    assert.equal(await page.evaluate(() => sessionStorage.getItem('token-broker.console.token')), adminToken)
    assert.deepEqual(await rowsOf(page), ['acme-billing', 'acme-crm', 'beta-dead', 'beta-sales'])
    const dead = await page.locator('tr[data-account="beta-dead"]').innerText()
    assert.match(dead, /beta/)
    assert.match(dead, /reauth required/)
    assert.match(dead, /REFRESH_TOKEN_INVALID/)
    assert.match(
      await page.locator('tr[data-account="acme-crm"]').innerText(),
      /active[\s\S]*\d{4}-\d\d-\d\d \d\d:\d\d[\s\S]*in (59|60) min/,
    )
    assert.match(await page.locator('#session').innerText(), /Signed in as console-admin/)
    assert.deepEqual(await unlabelled(page), [], 'every form control has a label')

    await page.getByLabel('Provider', { exact: true }).first().selectOption('beta')
    await Promise.all([page.waitForURL('**/console?provider=beta**'), page.getByRole('button', { name: 'Filter' }).click()])
    await page.locator('table.accounts').waitFor()
    assert.deepEqual(await rowsOf(page), ['beta-dead', 'beta-sales'])
    await page.locator('#filter-status').selectOption('reauth_required')
    await Promise.all([page.waitForURL('**status=reauth_required**'), page.getByRole('button', { name: 'Filter' }).click()])
    await page.locator('table.accounts').waitFor()
    assert.deepEqual(await rowsOf(page), ['beta-dead'])

    await page.goto(`${publicUrl}/console?limit=3`)
    await page.locator('table.accounts').waitFor()
    assert.deepEqual(await rowsOf(page), ['acme-billing', 'acme-crm', 'beta-dead'])
    await Promise.all([page.waitForURL('**cursor=**'), page.getByRole('link', { name: 'Next page →' }).click()])
    await page.locator('table.accounts').waitFor()
    assert.deepEqual(await rowsOf(page), ['beta-sales'])
    assert.equal(await page.getByRole('link', { name: 'Next page →' }).count(), 0)

    await page.goto(`${publicUrl}/console`)
    await page.locator('table.accounts').waitFor()
    await page.screenshot({ path: artifactPath('console-list-1200.png'), fullPage: true })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: artifactPath('console-list-phone.png'), fullPage: true })
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    assert.ok(overflow <= 0, `no sideways scrolling at phone width (${overflow} px too wide)`)
    assert.deepEqual(problems, [])
    await page.close()
  })

  test('links an account end to end and lands back on the console, then revokes it', async () => {
    const { page, problems } = await newTab()
    await page.goto(consoleLink)
    await page.locator('#link-account').fill('console-linked')
    await page.locator('#link-provider').selectOption('acme')
    await Promise.all([page.waitForURL(`${op.issuer}/**`), page.getByRole('button', { name: 'Link account' }).click()])

    // The provider's own login page, then its consent page.
    await page.locator('input[name="login"]').fill('alice')
    await page.locator('input[name="password"]').fill('any-password')
    await Promise.all([page.waitForLoadState(), page.locator('button[type="submit"], input[type="submit"]').first().click()])
    await Promise.all([
      page.waitForURL(`${publicUrl}/console?account=console-linked&status=linked`),
      page.locator('button[type="submit"], input[type="submit"]').first().click(),
    ])
    await page.getByRole('heading', { name: 'console-linked' }).waitFor()
    assert.equal(await page.locator('p.ok').innerText(), 'Account console-linked is linked with acme.')
    assert.match(await page.locator('dl.meta').innerText(), /active/)
    await page.locator('table.events').waitFor()
    assert.match(await page.locator('table.events').innerText(), /account\.linked\s+created\s+console-admin/)
    await page.screenshot({ path: artifactPath('console-account-1200.png'), fullPage: true })

    await page.getByRole('button', { name: 'Revoke…' }).click()
    const dialog = page.getByRole('dialog')
    assert.match(await dialog.innerText(), /Revoke console-linked\?/)
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    assert.equal(
      (await app.inject({ method: 'GET', url: '/accounts/console-linked', headers: bearer() })).statusCode,
      200,
      'cancel revokes nothing',
    )
    assert.equal(op.counts[op.paths.revocation], 0)

    await page.getByRole('button', { name: 'Revoke…' }).click()
    await dialog.getByRole('button', { name: 'Revoke account' }).click()
    await page.locator('[data-outcome]').waitFor()
    assert.equal(await page.locator('[data-outcome]').innerText(), 'succeeded')
    assert.match(
      await page.locator('[role=status]').last().innerText(),
      /Account console-linked is revoked\.\s+Provider revocation: succeeded/,
    )
    assert.equal(op.counts[op.paths.revocation], 1)
    assert.equal((await app.inject({ method: 'GET', url: '/accounts/console-linked', headers: bearer() })).statusCode, 404)
    assert.deepEqual(problems, [])
    await page.close()
  })

  test('an expired console token gets a clear message and a paste box, and a pasted token works', async () => {
    const { page } = await newTab()
    const expired = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256' })({
      sub: 'console-admin',
      scope: ADMIN.join(' '),
      exp: Math.floor(Date.now() / 1000) - 60,
    })
    await page.goto(`${publicUrl}/console#token=${expired}`)
    await page.getByRole('heading', { name: 'Sign in again' }).waitFor()
    assert.match(await page.getByRole('alert').innerText(), /Your console token has expired\. \(UNAUTHORIZED: the token has expired\)/)
    assert.equal(await page.evaluate(() => sessionStorage.getItem('token-broker.console.token')), null, 'the expired token is forgotten')
    await page.screenshot({ path: artifactPath('console-expired-1200.png'), fullPage: true })

    await page.getByLabel('Admin token').fill(adminToken)
    await page.getByRole('button', { name: 'Use this token' }).click()
    await page.locator('table.accounts').waitFor()
    assert.ok((await rowsOf(page)).includes('acme-crm'))
    await page.close()
  })

  test('no console token ever reached the server in a URL or a log line', () => {
    assert.ok(
      urlsSeen.some((u) => u.startsWith('/console')),
      'the console was loaded',
    )
    for (const url of urlsSeen) assert.ok(!url.includes('eyJ'), `no JWT in ${url}`)
    assert.ok(!broker.logs.text.includes(adminToken.split('.')[2]!), 'no token in the logs')
  })
})
