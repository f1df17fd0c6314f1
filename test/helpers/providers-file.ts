import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'

export type ProviderEntry = Record<string, unknown>
export type Providers = Record<string, ProviderEntry>

let folder: string | null = null
let written = 0

/** One temp folder per test process for its providers files (they hold client secrets), removed at exit. */
function providersFolder(): string {
  if (folder) return folder
  const created = mkdtempSync(join(tmpdir(), 'tb-providers-'))
  process.once('exit', () => rmSync(created, { recursive: true, force: true }))
  folder = created
  return created
}

/** Writes a providers YAML file readable by its owner only; returns its path. */
export function writeProvidersFile(providers: Providers): string {
  const path = join(providersFolder(), `providers-${++written}.yaml`)
  writeFileSync(path, stringify({ providers }), { mode: 0o600 })
  return path
}

/** An oauth2 provider whose endpoints are a stub provider's /authorize and /token. */
export function stubProvider(stub: { url: string }, overrides: ProviderEntry = {}): ProviderEntry {
  return {
    template: 'oauth2',
    authorization_url: `${stub.url}/authorize`,
    token_url: `${stub.url}/token`,
    client_id: 'broker-client',
    client_secret: 'broker-secret',
    ...overrides,
  }
}

/** An oidc provider found by discovery at the authorization server's issuer, as its registered client. */
export function oidcProvider(op: { issuer: string; clientId: string; clientSecret: string }, overrides: ProviderEntry = {}): ProviderEntry {
  return { template: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, ...overrides }
}

/**
 * `acme` and `beta`: oauth2 providers at a loopback port nothing listens on, for tests that
 * never reach a provider; `acmeTokenUrl` points acme's token endpoint at a stub instead.
 */
export function loopbackProviders(o: { acmeTokenUrl?: string } = {}): Providers {
  const entry = (name: string, tokenUrl: string) => ({
    template: 'oauth2',
    authorization_url: `http://127.0.0.1:9/${name}/auth`,
    token_url: tokenUrl,
    client_id: `${name}-client`,
    client_secret: `${name}-client-secret-value`,
    scopes: ['openid', 'offline_access'],
  })
  return {
    acme: entry('acme', o.acmeTokenUrl ?? 'http://127.0.0.1:9/acme/token'),
    beta: entry('beta', 'http://127.0.0.1:9/beta/token'),
  }
}
