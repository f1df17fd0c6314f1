/**
 * The broker apps most tests want, each a few lines over testApp: one at a stub provider,
 * one at the in-process authorization server, one per store kind for the HTTP contract.
 */
import type { TestContext } from 'node:test'
import { testApp, type AppOptions, type TestApp } from './app.js'
import { startOidcProvider, type OidcServer } from './oidc-provider.js'
import { loopbackProviders, oidcProvider, stubProvider, type ProviderEntry } from './providers-file.js'
import type { RedisFixture } from './redis-fixture.js'
import type { RedisServer } from './redis-server.js'

export interface StubBrokerOptions extends Omit<AppOptions, 'providers'> {
  /** Overrides of provider `stub`'s entry (another template, revocation_url, ...). */
  provider?: ProviderEntry
}

/** A broker with one provider `stub` at the stub's endpoints; providers get 5 s per call. */
export function brokerFor(stub: { url: string }, o: StubBrokerOptions = {}): Promise<TestApp> {
  const { provider, env, ...rest } = o
  return testApp({ ...rest, providers: { stub: stubProvider(stub, provider) }, env: { PROVIDER_TIMEOUT_MS: '5000', ...env } })
}

/** The broker's public URL in link tests: the authorization server redirects there, nothing listens. */
export const LINK_PUBLIC_URL = 'http://127.0.0.1:18555'

/** The in-process authorization server, its redirect URI the link tests' broker callback. */
export function startOp(o: { accessTokenTtlSeconds?: number } = {}): Promise<OidcServer> {
  return startOidcProvider({ redirectUri: `${LINK_PUBLIC_URL}/connect/callback`, ...o })
}

/** A broker with provider `op` (OIDC discovery at the real authorization server), plus any `providers` given. */
export function brokerForOp(op: OidcServer, o: AppOptions = {}): Promise<TestApp> {
  return testApp({ ...o, providers: { op: oidcProvider(op), ...o.providers }, env: { PUBLIC_URL: LINK_PUBLIC_URL, ...o.env } })
}

/** The callback path and query of a redirect URL the authorization server produced. */
export const callbackPath = (redirect: URL) => `${redirect.pathname}${redirect.search}`

export type StoreKind = 'memory' | 'redis'
export const STORE_KINDS: StoreKind[] = ['memory', 'redis']

export interface StoreApp extends TestApp {
  kind: StoreKind
  redis: RedisServer | null
}

/**
 * An app with providers `acme` and `beta` on the given store, closed when the test ends.
 * With Redis the server is flushed first (unless `flush: false`), so every test starts from nothing.
 */
export async function storeApp(
  t: TestContext,
  kind: StoreKind,
  fixture: RedisFixture | null,
  o: Omit<AppOptions, 'redis' | 't'> & { flush?: boolean } = {},
): Promise<StoreApp> {
  const { flush, ...options } = o
  let redis: RedisServer | null = null
  if (kind === 'redis') {
    if (!fixture) throw new Error('a Redis app needs a RedisFixture')
    redis = await fixture.get()
    if (flush !== false) await redis.flush()
  }
  const app = await testApp({ providers: loopbackProviders(), ...options, ...(redis ? { redis } : {}), t })
  return { ...app, kind, redis }
}
