/**
 * `npm run demo`: the whole product on one machine with no configuration. The broker runs on
 * the embedded store next to a local OpenID provider; the demo prints a caller token and the
 * link to open, waits for the account to be linked, then has a token handed out and refreshed.
 * `--headless` signs in on the provider by itself and exits when done (what the test runs).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startOidcProvider } from './support/oidc-provider.js'
import { showToken, waitForLink } from './support/demo-steps.js'

const HELP = `Usage: npm run demo [-- --headless]

Starts token-broker on the embedded store (PORT, default 8080) with a local OpenID provider,
prints a caller token and the link that connects the demo account, then shows a token being
handed out and refreshed.

  --headless   sign in on the local provider without a browser, and exit when done
  -h, --help   this text
`

const { values: flags } = parseArgs({ options: { headless: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } })
if (flags.help) {
  process.stdout.write(HELP)
  process.exit(0)
}
const port = Number(process.env.PORT ?? 8080)
const publicUrl = `http://localhost:${port}`
const brokerUrl = `http://127.0.0.1:${port}`
const secret = randomBytes(32).toString('base64url')

const op = await startOidcProvider({ redirectUri: `${publicUrl}/connect/callback`, accessTokenTtlSeconds: 600 })
const dir = mkdtempSync(join(tmpdir(), 'token-broker-demo-'))
const providersFile = join(dir, 'providers.json')
writeFileSync(
  providersFile,
  JSON.stringify({
    providers: {
      demo: { template: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, scopes: ['openid', 'email'] },
    },
  }),
)
// No load shedding on event-loop delay: the demo's broker shares its process with the provider and the demo's own calls.
const config = loadConfig({
  AUTH_JWT_SECRET: secret,
  PROVIDERS_FILE: providersFile,
  PORT: String(port),
  HOST: '127.0.0.1',
  PUBLIC_URL: publicUrl,
  LOG_LEVEL: 'warn',
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
})
rmSync(dir, { recursive: true, force: true })
const app = await buildApp(config)

const stop = async (code: number) => {
  await app.close()
  await op.close()
  process.exit(code)
}
try {
  await app.listen({ port, host: '127.0.0.1' })
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code
  process.stderr.write(
    code === 'EADDRINUSE'
      ? `token-broker demo: port ${port} is already in use; run it on another one: PORT=${port + 1} npm run demo\n`
      : `token-broker demo: cannot listen on 127.0.0.1:${port}: ${(error as Error).message}\n`,
  )
  await stop(1)
}
process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))

const token = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 8 * 3600_000 })({
  sub: 'demo-admin',
  scope: 'tokens:read tokens:revoke accounts:read accounts:write',
})
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const started = await fetch(`${brokerUrl}/connect/demo`, { method: 'POST', headers, body: JSON.stringify({ account: 'demo' }) })
const { authorization_url: authorizationUrl } = (await started.json()) as { authorization_url: string }

process.stdout.write(`
token-broker demo: broker on ${publicUrl} (embedded store), OpenID provider on ${op.issuer}

Caller token (a JWT for this demo process, valid 8 hours):

   export TB_TOKEN=${token}

1. Link the demo account: open this URL in a browser, sign in with any name and password, then continue.
   The link is single-use and lives 10 minutes.

   ${authorizationUrl}
`)

if (flags.headless) {
  const callback = await op.authorize(authorizationUrl, { login: 'demo-user' })
  callback.host = `127.0.0.1:${port}`
  const linked = await fetch(callback, { headers: { accept: 'application/json' } })
  process.stdout.write(`\n   (--headless: signed in as demo-user) ${linked.status} ${await linked.text()}\n`)
} else {
  process.stdout.write('\n   Waiting for the account to be linked...\n')
  await waitForLink(brokerUrl, headers)
}
process.stdout.write('\n   linked: account "demo" at provider "demo"\n')
await showToken(brokerUrl, headers)

process.stdout.write(`
3. Try it yourself:

   curl -s -H "Authorization: Bearer $TB_TOKEN" ${publicUrl}/tokens/demo/access
   curl -s -H "Authorization: Bearer $TB_TOKEN" ${publicUrl}/accounts/demo
   curl -s -X DELETE -H "Authorization: Bearer $TB_TOKEN" ${publicUrl}/tokens/demo

${flags.headless ? 'Done (--headless).' : 'Ctrl-C stops everything.'}
`)
if (flags.headless) await stop(0)
