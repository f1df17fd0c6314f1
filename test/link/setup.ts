import type { AppDeps } from '../../src/app.js'
import { testApp, testConfig, type TestApp } from '../helpers/app.js'
import { startOidcProvider, type OidcServer } from '../helpers/oidc-provider.js'
import { writeProvidersFile } from '../helpers/providers-file.js'

export const PUBLIC_URL = 'http://127.0.0.1:18555'

export async function startOp(o: { accessTokenTtlSeconds?: number } = {}): Promise<OidcServer> {
  return startOidcProvider({ redirectUri: `${PUBLIC_URL}/connect/callback`, ...o })
}

/** A broker with provider `op` (OIDC discovery from the real authorization server). */
export async function brokerForOp(op: OidcServer, env: Record<string, string> = {}, deps: AppDeps = {},
  extraProviders: Record<string, Record<string, unknown>> = {}): Promise<TestApp> {
  const providersFile = writeProvidersFile({
    op: { template: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret },
    ...extraProviders,
  })
  const t = await testApp(testConfig({ PROVIDERS_FILE: providersFile, PUBLIC_URL, ...env }), deps)
  await t.app.storage.connect()
  return t
}

/** The callback path and query of a redirect URL the provider produced. */
export const callbackPath = (redirect: URL) => `${redirect.pathname}${redirect.search}`
