/**
 * Development and test harness: runs panva's `oidc-provider` (a REAL OAuth 2.0 / OpenID Connect
 * authorization server) in-process on 127.0.0.1 on a free port, with its login and consent
 * done through oidc-provider's interaction API (oidc-interactions.ts), plus a scripted,
 * browser-less user agent (`authorize`) that follows the redirects and carries the cookies.
 *
 * Provider setup (oidc-provider v9):
 * - one confidential client (`client_secret_basic` by default, or `client_secret_post`),
 *   grant types authorization_code + refresh_token, response type `code`;
 * - PKCE required for every client (`pkce.required`); v9 only implements S256;
 * - `rotateRefreshToken: true` by default: every refresh returns a new refresh token and
 *   consumes the old one. Presenting a consumed refresh token again fails with
 *   `invalid_grant` AND revokes the whole grant (every token sharing its grantId);
 * - refresh tokens are issued for every authorization_code exchange (`issueRefreshToken`),
 *   without needing the `offline_access` scope (which oidc-provider drops unless
 *   `prompt=consent` is also requested), and they do not expire with the browser session
 *   (`expiresWithSession: false`);
 * - opaque access tokens (no resource indicator -> tokens for the userinfo endpoint), TTL
 *   `accessTokenTtlSeconds` (default 3600, may be as low as 1); `clockTolerance: 0`, so an
 *   expired token is rejected by userinfo AND reported inactive by introspection at once;
 * - note: oidc-provider accepts client_secret_basic and client_secret_post interchangeably
 *   for a client registered with either; `tokenEndpointAuthMethod` picks what the harness
 *   sends and what the client registration says;
 * - revocation + introspection enabled; no dev interactions: /interaction/:uid is ours, and
 *   accepts any login and grants whatever the client asked for;
 * - the discovery document advertises `authorization_response_iss_parameter_supported`
 *   (oidc-provider always does, and always adds `iss` to authorization responses).
 *
 * oidc-provider's start-up notices (in-memory adapter, "unsupported runtime" on Node 20) are
 * filtered out of the console; set OIDC_PROVIDER_VERBOSE=1 to see them.
 */
import { createHash, generateKeyPair, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider'
import { INTERACTION_PATH, interactionRoute, type InteractionChoice } from './oidc-interactions.js'

type ProviderModule = typeof import('oidc-provider')
type Provider = InstanceType<ProviderModule['default']>

export interface OidcServer {
  /** e.g. http://127.0.0.1:PORT */
  issuer: string
  port: number
  clientId: string
  clientSecret: string
  /** The client's only registered redirect URI. */
  redirectUri: string
  /** Absolute endpoint URLs (the same values as in the discovery document). */
  endpoints: {
    discovery: string
    authorization: string
    token: string
    userinfo: string
    introspection: string
    revocation: string
    jwks: string
  }
  /** Endpoint paths, e.g. paths.token === '/token' (the keys to use with `counts`). */
  paths: { authorization: string; token: string; userinfo: string; introspection: string; revocation: string }
  /**
   * Requests by URL path, e.g. counts['/token']. The endpoint paths start at 0; other
   * paths (interaction pages, ...) appear when first requested. resetCounts() zeroes all.
   */
  counts: Record<string, number>
  resetCounts(): void
  /** Token-endpoint requests by grant_type (successful or not): { authorization_code: n, refresh_token: n }. */
  grantCounts: Record<string, number>
  /** Token-endpoint requests that FAILED, by grant_type (e.g. a reused refresh token). */
  grantErrors: Record<string, number>
  /**
   * Login + consent for `authorizationUrl` (as the broker would produce it) as the user
   * `login` (default alice), or a cancel with `deny`: the choice is keyed by the request's
   * state and made by the interaction route; this follows the redirects with the provider's
   * cookies and returns the final redirect to the redirectUri (with code, state, iss — or
   * error) WITHOUT requesting it.
   */
  authorize(authorizationUrl: string, opts?: { login?: string; deny?: boolean }): Promise<URL>
  /** authorize() with its own PKCE + state, then the code exchange; returns the token response. */
  obtainGrant(opts?: { scope?: string; login?: string }): Promise<TokenResponse>
  /** RFC 7662 introspection with the client's credentials. */
  introspect(token: string): Promise<Record<string, unknown>>
  /** GET the userinfo endpoint with a bearer access token. */
  userinfo(accessToken: string): Promise<{ status: number; body: unknown }>
  /** Raw refresh_token grant with the client's credentials. */
  refreshDirect(refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }>
  /** Stops listening and drops open connections. Idempotent. */
  close(): Promise<void>
}

export interface TokenResponse {
  access_token: string
  refresh_token: string
  expires_in: number
  token_type: string
  scope?: string
  id_token?: string
}

export interface StartOidcProviderOptions {
  /** Registered redirect URI. Default http://127.0.0.1/callback (never requested by the harness). */
  redirectUri?: string
  /** Access token lifetime in seconds (>= 1). Default 3600. */
  accessTokenTtlSeconds?: number
  /** Default true. */
  rotateRefreshToken?: boolean
  /** Default client_secret_basic. */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post'
}

const CLIENT_ID = 'token-broker-test'
const MAX_AUTHORIZE_STEPS = 20

// ---------------------------------------------------------------------------
// quieting oidc-provider's development notices

function verbose(): boolean {
  return process.env.OIDC_PROVIDER_VERBOSE === '1'
}

let quietDepth = 0
let savedConsole: { warn: typeof console.warn; info: typeof console.info } | undefined

/** Runs fn with console.warn/info dropping lines that mention "oidc-provider " (overlap-safe). */
async function withoutProviderNotices<T>(fn: () => T | Promise<T>): Promise<T> {
  if (verbose()) return fn()
  if (quietDepth++ === 0) {
    savedConsole = { warn: console.warn, info: console.info }
    const saved = savedConsole
    const filter =
      (orig: (...args: unknown[]) => void) =>
      (...args: unknown[]) => {
        if (typeof args[0] === 'string' && args[0].includes('oidc-provider ')) return
        orig.apply(console, args)
      }
    console.warn = filter(saved.warn)
    console.info = filter(saved.info)
  }
  try {
    return await fn()
  } finally {
    if (--quietDepth === 0 && savedConsole) {
      console.warn = savedConsole.warn
      console.info = savedConsole.info
      savedConsole = undefined
    }
  }
}

let providerModule: Promise<ProviderModule> | undefined
function loadProvider(): Promise<ProviderModule> {
  // dynamic import so the import-time "unsupported runtime" notice (Node < 22) can be filtered
  providerModule ??= withoutProviderNotices(() => import('oidc-provider'))
  return providerModule
}

// ---------------------------------------------------------------------------

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode, then base64
  const enc = (s: string) => new URLSearchParams({ s }).toString().slice(2)
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`
}

export async function startOidcProvider(opts: StartOidcProviderOptions = {}): Promise<OidcServer> {
  const redirectUri = opts.redirectUri ?? 'http://127.0.0.1/callback'
  const accessTokenTtl = opts.accessTokenTtlSeconds ?? 3600
  if (!Number.isInteger(accessTokenTtl) || accessTokenTtl < 1) {
    throw new TypeError('accessTokenTtlSeconds must be an integer >= 1')
  }
  const authMethod = opts.tokenEndpointAuthMethod ?? 'client_secret_basic'
  const clientSecret = randomBytes(24).toString('base64url')

  const [{ default: ProviderClass }, signingKey] = await Promise.all([
    loadProvider(),
    promisify(generateKeyPair)('rsa', { modulusLength: 2048 }),
  ])

  // Listen first: the issuer must carry the port, and binding to port 0 has no race.
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const issuer = `http://127.0.0.1:${port}`

  const configuration: Configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: authMethod,
      },
    ],
    jwks: { keys: [{ ...signingKey.privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'offline_access', 'email'],
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, email: `${sub}@example.test`, email_verified: true }),
    }),
    // always a refresh token for this client, no offline_access / prompt=consent dance
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: () => false,
    rotateRefreshToken: opts.rotateRefreshToken ?? true,
    clientBasedCORS: () => false,
    // default 15 s: the userinfo endpoint would keep accepting an expired access token for 15 s
    // while introspection already says inactive; 0 makes expiry exact everywhere
    clockTolerance: 0,
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 24 * 3600,
      Interaction: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => !token.clientId || token.clientId === client.clientId,
      },
    },
  }

  let provider: Provider
  try {
    provider = await withoutProviderNotices(() => new ProviderClass(issuer, configuration))
  } catch (err) {
    server.close()
    throw err
  }

  const paths = {
    authorization: provider.pathFor('authorization'),
    token: provider.pathFor('token'),
    userinfo: provider.pathFor('userinfo'),
    introspection: provider.pathFor('introspection'),
    revocation: provider.pathFor('revocation'),
  }
  const endpoints = {
    discovery: `${issuer}/.well-known/openid-configuration`,
    authorization: provider.urlFor('authorization'),
    token: provider.urlFor('token'),
    userinfo: provider.urlFor('userinfo'),
    introspection: provider.urlFor('introspection'),
    revocation: provider.urlFor('revocation'),
    jwks: provider.urlFor('jwks'),
  }

  const counts: Record<string, number> = {}
  const grantCounts: Record<string, number> = {}
  const grantErrors: Record<string, number> = {}
  const resetCounts = (): void => {
    for (const c of [counts, grantCounts, grantErrors]) for (const k of Object.keys(c)) c[k] = 0
    for (const p of Object.values(paths)) counts[p] = 0
    for (const g of ['authorization_code', 'refresh_token']) {
      grantCounts[g] = 0
      grantErrors[g] = 0
    }
  }
  resetCounts()

  // After the provider handled a token request (its form body parsed, whether the grant
  // succeeded or not), count the grant type.
  provider.use(async (ctx, next) => {
    await next()
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc
    if (oidc?.route !== 'token') return
    const grantType = (oidc.body as Record<string, unknown> | undefined)?.grant_type
    const key = typeof grantType === 'string' ? grantType : '(none)'
    grantCounts[key] = (grantCounts[key] ?? 0) + 1
    if (ctx.status >= 400) grantErrors[key] = (grantErrors[key] ?? 0) + 1
  })

  const scripted = new Map<string, InteractionChoice>()
  const interaction = interactionRoute(provider, scripted)
  const handle = provider.callback()
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    counts[path] = (counts[path] ?? 0) + 1
    if (path.startsWith(INTERACTION_PATH)) void interaction(req, res)
    else void handle(req, res)
  })

  // ----- client-side helpers -------------------------------------------------

  const clientAuth = (params: URLSearchParams): Record<string, string> => {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    }
    if (authMethod === 'client_secret_basic') {
      headers.authorization = basicAuth(CLIENT_ID, clientSecret)
    } else {
      params.set('client_id', CLIENT_ID)
      params.set('client_secret', clientSecret)
    }
    return headers
  }

  const postForm = async (url: string, fields: Record<string, string>) => {
    const params = new URLSearchParams(fields)
    const headers = clientAuth(params)
    const res = await fetch(url, { method: 'POST', headers, body: params })
    const text = await res.text()
    let body: Record<string, unknown>
    try {
      body = JSON.parse(text) as Record<string, unknown>
    } catch {
      body = { raw: text }
    }
    return { status: res.status, body }
  }

  const redirectTarget = new URL(redirectUri)
  const isRedirectUri = (u: URL) => u.origin === redirectTarget.origin && u.pathname === redirectTarget.pathname

  const authorize: OidcServer['authorize'] = async (authorizationUrl, aOpts = {}) => {
    const state = new URL(authorizationUrl).searchParams.get('state') ?? ''
    scripted.set(state, { login: aOpts.login ?? 'alice', deny: aOpts.deny ?? false })
    const cookies = new Map<string, string>()
    try {
      let url = new URL(authorizationUrl)
      for (let step = 0; step < MAX_AUTHORIZE_STEPS; step++) {
        if (isRedirectUri(url)) return url
        if (url.origin !== issuer) throw new Error(`authorize: unexpected navigation to ${url.href}`)
        const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
        const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} })
        for (const line of res.headers.getSetCookie()) {
          const [pair = ''] = line.split(';')
          const eq = pair.indexOf('=')
          if (eq <= 0) continue
          const value = pair.slice(eq + 1).trim()
          if (value) cookies.set(pair.slice(0, eq).trim(), value)
          else cookies.delete(pair.slice(0, eq).trim())
        }
        const location = res.headers.get('location')
        if (res.status < 300 || res.status >= 400 || !location) {
          throw new Error(`authorize: GET ${url.pathname} -> ${res.status}: ${(await res.text()).slice(0, 500)}`)
        }
        await res.body?.cancel()
        url = new URL(location, url)
      }
      throw new Error(`authorize: gave up after ${MAX_AUTHORIZE_STEPS} redirects (last: ${url.href})`)
    } finally {
      scripted.delete(state)
    }
  }

  const obtainGrant: OidcServer['obtainGrant'] = async (gOpts = {}) => {
    const verifier = randomBytes(32).toString('base64url')
    const state = randomBytes(16).toString('base64url')
    const authUrl = new URL(endpoints.authorization)
    authUrl.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: gOpts.scope ?? 'openid email',
      state,
      code_challenge: s256(verifier),
      code_challenge_method: 'S256',
    }).toString()

    const cb = await authorize(authUrl.href, { login: gOpts.login })
    const error = cb.searchParams.get('error')
    if (error) throw new Error(`obtainGrant: authorization failed: ${error} ${cb.searchParams.get('error_description') ?? ''}`)
    if (cb.searchParams.get('state') !== state) throw new Error('obtainGrant: state mismatch')
    if (cb.searchParams.get('iss') !== issuer) throw new Error(`obtainGrant: iss mismatch: ${cb.searchParams.get('iss')}`)
    const code = cb.searchParams.get('code')
    if (!code) throw new Error(`obtainGrant: no code in ${cb.href}`)

    const { status, body } = await postForm(endpoints.token, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    })
    if (status !== 200 || typeof body.access_token !== 'string' || typeof body.refresh_token !== 'string') {
      throw new Error(`obtainGrant: token endpoint -> ${status}: ${JSON.stringify(body)}`)
    }
    return body as unknown as TokenResponse
  }

  const introspect: OidcServer['introspect'] = async (token) => {
    const { status, body } = await postForm(endpoints.introspection, { token })
    if (status !== 200) throw new Error(`introspect -> ${status}: ${JSON.stringify(body)}`)
    return body
  }

  const userinfo: OidcServer['userinfo'] = async (accessToken) => {
    const res = await fetch(endpoints.userinfo, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
    })
    const text = await res.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      /* keep text */
    }
    return { status: res.status, body }
  }

  const refreshDirect: OidcServer['refreshDirect'] = (refreshToken) =>
    postForm(endpoints.token, { grant_type: 'refresh_token', refresh_token: refreshToken })

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closing
  }

  return {
    issuer,
    port,
    clientId: CLIENT_ID,
    clientSecret,
    redirectUri,
    endpoints,
    paths,
    counts,
    resetCounts,
    grantCounts,
    grantErrors,
    authorize,
    obtainGrant,
    introspect,
    userinfo,
    refreshDirect,
    close,
  }
}
