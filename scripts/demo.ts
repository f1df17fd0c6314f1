/**
 * `npm run demo`: the broker on the embedded store plus a local OpenID provider on
 * loopback, and the steps to link a demo account and get a token. Development only.
 */
import { randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startOidcProvider } from '../test/helpers/oidc-provider.js'
import { writeProvidersFile } from '../test/helpers/providers-file.js'

const port = Number(process.env.PORT ?? 8080)
const publicUrl = `http://localhost:${port}`
const secret = randomBytes(32).toString('base64url')

const op = await startOidcProvider({ redirectUri: `${publicUrl}/connect/callback`, accessTokenTtlSeconds: 600 })
const providersFile = writeProvidersFile({
  demo: { template: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret },
})
const config = loadConfig({ AUTH_JWT_SECRET: secret, PROVIDERS_FILE: providersFile, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: publicUrl, LOG_LEVEL: 'warn' })
const app = await buildApp(config)
await app.listen({ port, host: '127.0.0.1' })
app.broker.scheduler.start()

const token = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 8 * 3600_000 })({
  sub: 'demo-admin', scope: 'tokens:read tokens:revoke accounts:read accounts:write',
})
const started = await app.inject({ method: 'POST', url: '/connect/demo', headers: { authorization: `Bearer ${token}` }, payload: { account: 'demo' } })
const { authorization_url: authorizationUrl } = started.json() as { authorization_url: string }

process.stdout.write(`
token-broker demo: broker on ${publicUrl} (embedded store), OpenID provider on ${op.issuer}

1. Link the demo account: open this URL in a browser, sign in with any name and password, then continue:

   ${authorizationUrl}

2. Get an access token for it (refreshed for you when it is about to expire):

   export TB_TOKEN=${token}
   curl -s -H "Authorization: Bearer $TB_TOKEN" ${publicUrl}/tokens/demo/access

3. See the account, or revoke it:

   curl -s -H "Authorization: Bearer $TB_TOKEN" ${publicUrl}/accounts/demo
   curl -s -X DELETE -H "Authorization: Bearer $TB_TOKEN" ${publicUrl}/tokens/demo

TB_TOKEN is a caller token valid for 8 hours, for this demo process only. Ctrl-C stops everything.
`)

const stop = async () => {
  await app.close()
  await op.close()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
