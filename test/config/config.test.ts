import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig, type Config } from '../../src/config.js'
import { OAUTH2_DEFAULTS } from '../../src/providers/template.js'
import { TEMPLATES } from '../../src/providers/templates/index.js'
import { within } from '../helpers/wait.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const dir = mkdtempSync(path.join(tmpdir(), 'tb-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const KEY_MATERIAL = Buffer.alloc(32, 9).toString('base64')
const KEYS = `k1:${KEY_MATERIAL}`
const BASE = { AUTH_JWT_SECRET: 'config-test-secret' }

let files = 0
function file(name: string, text: string): string {
  const p = path.join(dir, `${++files}-${name}`)
  writeFileSync(p, text)
  return p
}

/** Asserts loadConfig(env) throws a ConfigError naming `variable`, and returns it. */
function configError(env: Record<string, string>, variable: string): ConfigError {
  let caught: unknown
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      caught = error
      return true
    },
  )
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`)
  assert.equal(caught.variable, variable, `the error names ${variable}: "${caught.message}"`)
  assert.ok(caught.message.startsWith(`${variable} `), `the message starts with the name: "${caught.message}"`)
  assert.ok(!caught.message.includes('\n'), 'one line')
  return caught
}

const pem = (type: 'rsa' | 'ec' | 'ed25519' | 'x25519') => {
  const options = type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve: 'P-256' } : {}
  // @ts-expect-error the overloads do not take a union of key types
  const { publicKey } = generateKeyPairSync(type, options)
  return publicKey.export({ type: 'spki', format: 'pem' }).toString() as string
}

describe('loadConfig: defaults', () => {
  test('match the contract table', () => {
    const config = loadConfig({ ...BASE })
    assert.deepEqual(
      {
        port: config.port,
        host: config.host,
        publicUrl: config.publicUrl,
        keyPrefix: config.keyPrefix,
        refreshSkewSeconds: config.refreshSkewSeconds,
        refreshLockTtlMs: config.refreshLockTtlMs,
        providerTimeoutMs: config.providerTimeoutMs,
        logLevel: config.logLevel,
        store: config.store,
        encryptionKeys: config.encryptionKeys,
        returnToAllowlist: config.returnToAllowlist,
        providers: config.providers,
        production: config.production,
        callerAuth: config.callerAuth,
      },
      {
        port: 8080,
        host: '0.0.0.0',
        publicUrl: 'http://localhost:8080',
        keyPrefix: 'tb:',
        refreshSkewSeconds: 300,
        refreshLockTtlMs: 30_000,
        providerTimeoutMs: 10_000,
        logLevel: 'info',
        store: { kind: 'memory' },
        encryptionKeys: null,
        returnToAllowlist: [],
        providers: [],
        production: false,
        callerAuth: { kind: 'secret', secret: 'config-test-secret' },
      } satisfies Partial<Config>,
    )
    assert.equal(config.issuer, undefined)
    assert.equal(config.audience, undefined)
  })

  test('PUBLIC_URL defaults from PORT; a given one loses its trailing slash', () => {
    assert.equal(loadConfig({ ...BASE, PORT: '9091' }).publicUrl, 'http://localhost:9091')
    assert.equal(loadConfig({ ...BASE, PUBLIC_URL: 'https://broker.example.com/' }).publicUrl, 'https://broker.example.com')
  })

  test('empty variables count as unset', () => {
    const config = loadConfig({ ...BASE, PORT: '', REDIS_URL: '', REFRESH_SKEW_SECONDS: '', AUTH_JWKS_URL: '' })
    assert.equal(config.port, 8080)
    assert.equal(config.refreshSkewSeconds, 300)
    assert.deepEqual(config.store, { kind: 'memory' })
  })

  test('never reads process.env when given an env', () => {
    const saved = process.env.PORT
    process.env.PORT = 'not-a-port'
    try {
      assert.equal(loadConfig({ ...BASE }).port, 8080)
    } finally {
      if (saved === undefined) delete process.env.PORT
      else process.env.PORT = saved
    }
  })
})

describe('loadConfig: values', () => {
  test('numbers, prefix, level, issuer, audience and allow-list are taken as given', () => {
    const config = loadConfig({
      ...BASE,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: 'broker:',
      REFRESH_SKEW_SECONDS: '0',
      REFRESH_LOCK_TTL_MS: '5000',
      PROVIDER_TIMEOUT_MS: '2500',
      LOG_LEVEL: 'debug',
      AUTH_JWT_ISSUER: 'https://issuer.test',
      AUTH_JWT_AUDIENCE: 'token-broker',
      RETURN_TO_ALLOWLIST: 'https://app.test/done, http://localhost:3000/',
    })
    assert.equal(config.port, 0)
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.keyPrefix, 'broker:')
    assert.equal(config.refreshSkewSeconds, 0)
    assert.equal(config.refreshLockTtlMs, 5000)
    assert.equal(config.providerTimeoutMs, 2500)
    assert.equal(config.logLevel, 'debug')
    assert.equal(config.issuer, 'https://issuer.test')
    assert.equal(config.audience, 'token-broker')
    assert.deepEqual(config.returnToAllowlist, ['https://app.test/done', 'http://localhost:3000/'])
  })

  test('Redis: standalone, cluster and sentinel, each needing ENCRYPTION_KEYS', () => {
    const standalone = loadConfig({ ...BASE, REDIS_URL: 'rediss://user:pw@redis.internal:6380/2', ENCRYPTION_KEYS: KEYS })
    assert.deepEqual(standalone.store, { kind: 'standalone', url: 'rediss://user:pw@redis.internal:6380/2' })
    assert.deepEqual(standalone.encryptionKeys, [{ id: 'k1', key: Buffer.alloc(32, 9) }])

    const cluster = loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'r1:7000,r2:7001', ENCRYPTION_KEYS: KEYS })
    assert.deepEqual(cluster.store, {
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
      ],
    })

    const sentinel = loadConfig({
      ...BASE,
      REDIS_SENTINELS: 's1:26379,s2:26379',
      REDIS_SENTINEL_NAME: 'mymaster',
      ENCRYPTION_KEYS: KEYS,
    })
    assert.deepEqual(sentinel.store, {
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
    })
  })

  test('NODE_ENV=production with Redis is accepted', () => {
    const config = loadConfig({
      ...BASE,
      AUTH_JWT_SECRET: 'x'.repeat(32),
      NODE_ENV: 'production',
      REDIS_URL: 'redis://r:6379',
      ENCRYPTION_KEYS: KEYS,
    })
    assert.equal(config.production, true)
  })

  test('ENCRYPTION_KEYS with the embedded store is used as given', () => {
    const config = loadConfig({ ...BASE, ENCRYPTION_KEYS: `new:${Buffer.alloc(32, 1).toString('base64')},${KEYS}` })
    assert.deepEqual(
      config.encryptionKeys?.map((k) => k.id),
      ['new', 'k1'],
    )
  })

  test('a PEM public key pins its algorithm; escaped newlines are accepted', () => {
    const rsa = loadConfig({ ...BASE, AUTH_JWT_SECRET: '', AUTH_JWT_PUBLIC_KEY: pem('rsa') })
    assert.equal(rsa.callerAuth.kind === 'public-key' && rsa.callerAuth.algorithm, 'RS256')
    const ec = loadConfig({ AUTH_JWT_PUBLIC_KEY: pem('ec').replace(/\n/g, '\\n') })
    assert.equal(ec.callerAuth.kind === 'public-key' && ec.callerAuth.algorithm, 'ES256')
    const ed = loadConfig({ AUTH_JWT_PUBLIC_KEY: pem('ed25519') })
    assert.equal(ed.callerAuth.kind === 'public-key' && ed.callerAuth.algorithm, 'EdDSA')
  })

  test('a JWKS URL', () => {
    assert.deepEqual(loadConfig({ AUTH_JWKS_URL: 'https://id.test/jwks' }).callerAuth, { kind: 'jwks', url: 'https://id.test/jwks' })
  })
})

describe('loadConfig: a bad setting names its variable', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['PORT=abc', { ...BASE, PORT: 'abc' }, 'PORT'],
    ['PORT=70000', { ...BASE, PORT: '70000' }, 'PORT'],
    ['PORT=-1', { ...BASE, PORT: '-1' }, 'PORT'],
    ['PORT=80.5', { ...BASE, PORT: '80.5' }, 'PORT'],
    ['PORT=8080abc', { ...BASE, PORT: '8080abc' }, 'PORT'],
    ['PORT=0x50', { ...BASE, PORT: '0x50' }, 'PORT'],
    ['REFRESH_SKEW_SECONDS=6e2 (would read as 6)', { ...BASE, REFRESH_SKEW_SECONDS: '6e2' }, 'REFRESH_SKEW_SECONDS'],
    ['PROACTIVE_REFRESH=maybe', { ...BASE, PROACTIVE_REFRESH: 'maybe' }, 'PROACTIVE_REFRESH'],
    ['REFRESH_SKEW_SECONDS=-1', { ...BASE, REFRESH_SKEW_SECONDS: '-1' }, 'REFRESH_SKEW_SECONDS'],
    ['REFRESH_SKEW_SECONDS=soon', { ...BASE, REFRESH_SKEW_SECONDS: 'soon' }, 'REFRESH_SKEW_SECONDS'],
    ['REFRESH_LOCK_TTL_MS=0', { ...BASE, REFRESH_LOCK_TTL_MS: '0' }, 'REFRESH_LOCK_TTL_MS'],
    ['PROVIDER_TIMEOUT_MS=abc', { ...BASE, PROVIDER_TIMEOUT_MS: 'abc' }, 'PROVIDER_TIMEOUT_MS'],
    ['LOG_LEVEL=loud', { ...BASE, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['REDIS_URL=http://x', { ...BASE, REDIS_URL: 'http://x', ENCRYPTION_KEYS: KEYS }, 'REDIS_URL'],
    ['REDIS_KEY_PREFIX with a brace', { ...BASE, REDIS_KEY_PREFIX: 'tb{x}:' }, 'REDIS_KEY_PREFIX'],
    [
      'REDIS_URL and REDIS_CLUSTER_NODES',
      { ...BASE, REDIS_URL: 'redis://r', REDIS_CLUSTER_NODES: 'r:7000', ENCRYPTION_KEYS: KEYS },
      'REDIS_CLUSTER_NODES',
    ],
    ['REDIS_CLUSTER_NODES without ports', { ...BASE, REDIS_CLUSTER_NODES: 'r1,r2', ENCRYPTION_KEYS: KEYS }, 'REDIS_CLUSTER_NODES'],
    ['REDIS_CLUSTER_NODES port out of range', { ...BASE, REDIS_CLUSTER_NODES: 'r1:99999', ENCRYPTION_KEYS: KEYS }, 'REDIS_CLUSTER_NODES'],
    ['REDIS_SENTINELS without a name', { ...BASE, REDIS_SENTINELS: 's:26379', ENCRYPTION_KEYS: KEYS }, 'REDIS_SENTINEL_NAME'],
    ['REDIS_URL without ENCRYPTION_KEYS', { ...BASE, REDIS_URL: 'redis://r:6379' }, 'ENCRYPTION_KEYS'],
    ['malformed ENCRYPTION_KEYS', { ...BASE, REDIS_URL: 'redis://r:6379', ENCRYPTION_KEYS: `k1=${KEY_MATERIAL}` }, 'ENCRYPTION_KEYS'],
    ['a short key in ENCRYPTION_KEYS', { ...BASE, ENCRYPTION_KEYS: `k1:${Buffer.alloc(16, 3).toString('base64')}` }, 'ENCRYPTION_KEYS'],
    ['NODE_ENV=production without Redis', { ...BASE, NODE_ENV: 'production' }, 'REDIS_URL'],
    ['no caller authentication', {}, 'AUTH_JWT_SECRET'],
    ['two kinds of caller authentication', { ...BASE, AUTH_JWKS_URL: 'https://id.test/jwks' }, 'AUTH_JWKS_URL'],
    ['AUTH_JWKS_URL not a URL', { AUTH_JWKS_URL: 'id.test/jwks' }, 'AUTH_JWKS_URL'],
    ['a bad PEM', { AUTH_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----' }, 'AUTH_JWT_PUBLIC_KEY'],
    ['a key that cannot verify JWTs', { AUTH_JWT_PUBLIC_KEY: pem('x25519') }, 'AUTH_JWT_PUBLIC_KEY'],
    ['RETURN_TO_ALLOWLIST not http(s)', { ...BASE, RETURN_TO_ALLOWLIST: 'https://ok.test/,javascript:alert(1)' }, 'RETURN_TO_ALLOWLIST'],
    ['PUBLIC_URL not a URL', { ...BASE, PUBLIC_URL: 'broker.example.com' }, 'PUBLIC_URL'],
  ]
  for (const [what, env, variable] of cases) {
    test(what, () => {
      configError(env, variable)
    })
  }

  test('the missing caller authentication error lists every way to configure it', () => {
    const error = configError({}, 'AUTH_JWT_SECRET')
    assert.match(error.message, /AUTH_JWT_PUBLIC_KEY/)
    assert.match(error.message, /AUTH_JWKS_URL/)
  })

  test('two kinds of caller authentication: either one named, the conflict explained', () => {
    const error = configError({ AUTH_JWT_SECRET: 's', AUTH_JWT_PUBLIC_KEY: pem('ed25519') }, 'AUTH_JWT_PUBLIC_KEY')
    assert.match(error.message, /AUTH_JWT_SECRET/)
  })

  test('an error never echoes key material or secrets', () => {
    const material = Buffer.alloc(31, 5).toString('base64')
    const error = configError({ ...BASE, ENCRYPTION_KEYS: `k1:${material}` }, 'ENCRYPTION_KEYS')
    assert.ok(!error.message.includes(material))
    const malformed = configError({ ...BASE, ENCRYPTION_KEYS: `k1=${KEY_MATERIAL}` }, 'ENCRYPTION_KEYS')
    assert.ok(!malformed.message.includes(KEY_MATERIAL))
  })
})

describe('loadConfig: providers file', () => {
  const providers = (text: string, name = 'providers.yaml', env: Record<string, string> = {}) =>
    loadConfig({ ...BASE, PROVIDERS_FILE: file(name, text), ...env }).providers

  test('YAML: ${VAR} resolved from the given env, defaults filled, secrets as a list', () => {
    const [acme, ...rest] = providers(
      `
providers:
  acme:
    template: oauth2
    issuer: https://id.acme.test
    authorization_url: https://id.acme.test/auth
    token_url: https://id.acme.test/token
    revocation_url: https://id.acme.test/token/revocation
    client_id: \${ACME_CLIENT_ID}
    client_secret: ["\${ACME_SECRET_NEW}", "\${ACME_SECRET_OLD}"]
    token_auth_method: client_secret_post
    scopes: [openid, offline_access]
    pkce: false
    authorize_params: { prompt: consent, tenant: "t-\${ACME_TENANT}" }
`,
      'acme.yaml',
      { ACME_CLIENT_ID: 'acme-id', ACME_SECRET_NEW: 'new-secret', ACME_SECRET_OLD: 'old-secret', ACME_TENANT: '42' },
    )
    assert.deepEqual(rest, [])
    assert.ok(acme)
    assert.equal(acme.name, 'acme')
    assert.equal(acme.template, 'oauth2')
    assert.equal(acme.issuer, 'https://id.acme.test')
    assert.equal(acme.authorizationUrl, 'https://id.acme.test/auth')
    assert.equal(acme.tokenUrl, 'https://id.acme.test/token')
    assert.equal(acme.revocationUrl, 'https://id.acme.test/token/revocation')
    assert.equal(acme.clientId, 'acme-id')
    assert.deepEqual(acme.clientSecrets, ['new-secret', 'old-secret'])
    assert.equal(acme.tokenAuthMethod, 'client_secret_post')
    assert.deepEqual(acme.scopes, ['openid', 'offline_access'])
    assert.equal(acme.pkce, false)
    assert.deepEqual(acme.authorizeParams, { prompt: 'consent', tenant: 't-42' })
  })

  test('JSON loads the same way; a single client_secret becomes a one-item list', () => {
    const [one, two] = providers(
      JSON.stringify({
        providers: {
          one: {
            token_url: 'https://one.test/token',
            authorization_url: 'https://one.test/auth',
            client_id: '${ONE_ID}',
            client_secret: 'only',
          },
          two: { issuer: 'https://two.test', client_id: 'two-id' },
        },
      }),
      'providers.json',
      { ONE_ID: 'one-id' },
    )
    assert.equal(one?.clientId, 'one-id')
    assert.deepEqual(one?.clientSecrets, ['only'])
    assert.equal(one?.tokenAuthMethod, 'client_secret_basic', 'the template default')
    assert.equal(one?.pkce, true, 'PKCE defaults to on')
    assert.equal(one?.template, 'oauth2')
    assert.equal(two?.issuer, 'https://two.test')
    assert.deepEqual(two?.clientSecrets, [], 'a public client has no secret')
  })

  test('http:// is accepted on loopback hosts only', () => {
    for (const host of ['127.0.0.1', '127.10.20.30', 'localhost', '[::1]']) {
      const [p] = providers(`providers: { local: { issuer: "http://${host}:9000/", client_id: c } }`)
      assert.equal(p?.issuer, `http://${host}:9000/`)
    }
    for (const url of [
      'http://id.acme.test',
      'http://localhost.evil.test',
      'http://127.0.0.1.nip.io',
      'http://10.0.0.1',
      'ftp://localhost/x',
      'not a url',
    ]) {
      const error = configError(
        { ...BASE, PROVIDERS_FILE: file('p.yaml', `providers: { bad: { issuer: "${url}", client_id: c } }`) },
        'PROVIDERS_FILE',
      )
      assert.match(error.message, /bad/, `${url}: the message names the provider`)
    }
    configError(
      {
        ...BASE,
        PROVIDERS_FILE: file(
          'p.yaml',
          'providers: { bad: { authorization_url: "https://ok.test/a", token_url: "http://id.acme.test/t", client_id: c } }',
        ),
      },
      'PROVIDERS_FILE',
    )
  })

  test("a template's endpoints are overridden by the entry's fields", () => {
    TEMPLATES['test-endpoints'] = {
      ...OAUTH2_DEFAULTS,
      authorizationUrl: 'https://template.test/auth',
      tokenUrl: 'https://template.test/token',
      revocationUrl: 'https://template.test/revoke',
      scopes: ['template-scope'],
      authorizeParams: { access_type: 'offline', prompt: 'select_account' },
    }
    try {
      const [kept, overridden] = providers(`
providers:
  kept: { template: test-endpoints, client_id: c }
  overridden:
    template: test-endpoints
    client_id: c
    token_url: http://127.0.0.1:4444/token
    revocation_url: https://mine.test/revoke
    scopes: [mine]
    authorize_params: { prompt: consent }
`)
      assert.equal(kept?.authorizationUrl, 'https://template.test/auth')
      assert.equal(kept?.tokenUrl, 'https://template.test/token')
      assert.equal(kept?.revocationUrl, 'https://template.test/revoke')
      assert.deepEqual(kept?.scopes, ['template-scope'])
      assert.equal(overridden?.authorizationUrl, 'https://template.test/auth', "not overridden: the template's")
      assert.equal(overridden?.tokenUrl, 'http://127.0.0.1:4444/token')
      assert.equal(overridden?.revocationUrl, 'https://mine.test/revoke')
      assert.deepEqual(overridden?.scopes, ['mine'])
      assert.deepEqual(overridden?.authorizeParams, { access_type: 'offline', prompt: 'consent' })
      assert.equal(overridden?.template, 'test-endpoints')
    } finally {
      delete TEMPLATES['test-endpoints']
    }
  })

  test('a built-in template alone is enough: every built-in loads with only client credentials', () => {
    const names = Object.keys(TEMPLATES).filter((n) => n !== 'oauth2' && n !== 'oidc')
    for (const required of ['google', 'github', 'microsoft', 'discord', 'slack']) {
      assert.ok(names.includes(required), `built-in template ${required}`)
    }
    const entries = names.map((n) => `  ${n}-x: { template: ${n}, client_id: id-${n}, client_secret: secret-${n} }`).join('\n')
    const loaded = providers(`providers:\n${entries}\n`)
    assert.deepEqual(
      loaded.map((p) => p.name),
      names.map((n) => `${n}-x`),
    )
    for (const p of loaded) {
      assert.ok(p.authorizationUrl?.startsWith('https://'), `${p.name}: authorization URL from the template`)
      assert.ok(p.tokenUrl?.startsWith('https://'), `${p.name}: token URL from the template`)
      assert.doesNotMatch(`${p.authorizationUrl} ${p.tokenUrl} ${p.revocationUrl ?? ''}`, /\{[a-z_]+\}/, `${p.name}: no placeholder left`)
      assert.deepEqual(p.clientSecrets, [`secret-${p.template}`])
    }
    const google = loaded.find((p) => p.template === 'google')!
    assert.equal(google.authorizationUrl, TEMPLATES.google!.authorizationUrl)
    assert.equal(google.tokenUrl, TEMPLATES.google!.tokenUrl)
  })

  test("a built-in template's endpoints yield to the entry's (a local stand-in for github)", () => {
    const [p] = providers(`
providers:
  gh:
    template: github
    client_id: c
    authorization_url: http://127.0.0.1:5555/login/oauth/authorize
    token_url: http://localhost:5555/login/oauth/access_token
`)
    assert.equal(p?.authorizationUrl, 'http://127.0.0.1:5555/login/oauth/authorize')
    assert.equal(p?.tokenUrl, 'http://localhost:5555/login/oauth/access_token')
    assert.equal(p?.template, 'github')
    assert.equal(p?.invalidGrantErrors.join(','), TEMPLATES.github!.invalidGrantErrors.join(','), 'quirks still come from the template')
  })

  test("microsoft: the tenant fills the template's URLs, common by default", () => {
    const [common, tenant] = providers(`
providers:
  ms-common: { template: microsoft, client_id: c }
  ms-tenant: { template: microsoft, client_id: c, params: { tenant: contoso.onmicrosoft.com } }
`)
    assert.equal(common?.tokenUrl, 'https://login.microsoftonline.com/common/oauth2/v2.0/token')
    assert.equal(tenant?.authorizationUrl, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize')
  })

  test('PROVIDERS_FILE defaults to ./providers.yaml when present', () => {
    const cwd = process.cwd()
    const here = mkdtempSync(path.join(dir, 'cwd-'))
    try {
      process.chdir(here)
      assert.deepEqual(loadConfig({ ...BASE }).providers, [])
      writeFileSync(path.join(here, 'providers.yaml'), 'providers: { local: { issuer: "https://id.test", client_id: c } }')
      assert.deepEqual(
        loadConfig({ ...BASE }).providers.map((p) => p.name),
        ['local'],
      )
    } finally {
      process.chdir(cwd)
    }
  })

  const bad: [string, () => Record<string, string>, string, RegExp?][] = [
    ['an unreadable file', () => ({ PROVIDERS_FILE: path.join(dir, 'missing.yaml') }), 'PROVIDERS_FILE', /missing\.yaml/],
    ['a directory', () => ({ PROVIDERS_FILE: dir }), 'PROVIDERS_FILE'],
    ['invalid YAML', () => ({ PROVIDERS_FILE: file('p.yaml', 'providers:\n  acme: [unclosed\n') }), 'PROVIDERS_FILE', /YAML/],
    ['invalid JSON', () => ({ PROVIDERS_FILE: file('p.json', '{"providers": {') }), 'PROVIDERS_FILE', /JSON/],
    ['no providers key', () => ({ PROVIDERS_FILE: file('p.yaml', 'acme: { client_id: c }') }), 'PROVIDERS_FILE'],
    [
      'an unknown field',
      () => ({ PROVIDERS_FILE: file('p.yaml', 'providers: { acme: { issuer: "https://i.test", client_id: c, clientid: x } }') }),
      'PROVIDERS_FILE',
    ],
    [
      'a bad provider name',
      () => ({ PROVIDERS_FILE: file('p.yaml', 'providers: { "Acme Corp": { issuer: "https://i.test", client_id: c } }') }),
      'PROVIDERS_FILE',
    ],
    ['no client_id', () => ({ PROVIDERS_FILE: file('p.yaml', 'providers: { acme: { issuer: "https://i.test" } }') }), 'PROVIDERS_FILE'],
    ['no endpoints', () => ({ PROVIDERS_FILE: file('p.yaml', 'providers: { acme: { client_id: c } }') }), 'PROVIDERS_FILE', /acme/],
    [
      'an unknown template',
      () => ({ PROVIDERS_FILE: file('p.yaml', 'providers: { acme: { template: nosuch, issuer: "https://i.test", client_id: c } }') }),
      'PROVIDERS_FILE',
      /nosuch/,
    ],
    [
      'a bad token_auth_method',
      () => ({
        PROVIDERS_FILE: file(
          'p.yaml',
          'providers: { acme: { issuer: "https://i.test", client_id: c, token_auth_method: private_key_jwt } }',
        ),
      }),
      'PROVIDERS_FILE',
    ],
    // A provider none of whose variables is set is skipped (test/config/messages.test.ts); one set, one not is an error.
    [
      'a missing ${VAR}',
      () => ({
        PROVIDERS_FILE: file(
          'p.yaml',
          'providers: { acme: { issuer: "https://i.test", client_id: "${ACME_ID}", client_secret: "${ACME_SECRET_UNSET}" } }',
        ),
        ACME_ID: 'id',
      }),
      'ACME_SECRET_UNSET',
      /PROVIDERS_FILE/,
    ],
    [
      'an empty ${VAR}',
      () => ({
        PROVIDERS_FILE: file(
          'p.yaml',
          'providers: { acme: { issuer: "https://i.test", client_id: "${ACME_ID}", client_secret: "${ACME_S}" } }',
        ),
        ACME_ID: '',
        ACME_S: 's',
      }),
      'ACME_ID',
    ],
  ]
  for (const [what, env, variable, message] of bad) {
    test(`${what} names ${variable}`, () => {
      const error = configError({ ...BASE, ...env() }, variable)
      if (message) assert.match(error.message, message)
    })
  }

  test('an error about a provider never echoes its client secret', () => {
    const secret = 'very-secret-client-secret-value'
    const error = configError(
      {
        ...BASE,
        ACME_SECRET: secret,
        PROVIDERS_FILE: file(
          'p.yaml',
          'providers: { acme: { issuer: "http://id.acme.test", client_id: c, client_secret: "${ACME_SECRET}" } }',
        ),
      },
      'PROVIDERS_FILE',
    )
    assert.ok(!error.message.includes(secret))
  })
})

describe('server start with a bad setting', () => {
  /**
   * Runs the real entry point. tsx is started from node_modules/.bin (what `npx tsx` runs)
   * so npm's own warnings about the user's npmrc cannot mix into the server's stderr.
   */
  async function startServer(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/server.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c
    })
    const closed = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    try {
      return { code: await within('the server to exit', closed, 60_000), stdout, stderr }
    } catch (error) {
      child.kill('SIGKILL')
      throw new Error(`${(error as Error).message}; stdout: ${stdout}; stderr: ${stderr}`)
    }
  }

  const assertOneLine = (stderr: string, variable: string) => {
    const lines = stderr.split('\n').filter((l) => l.trim() !== '')
    assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${stderr}`)
    assert.match(lines[0]!, new RegExp(`\\b${variable}\\b`))
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace')
  }

  test('PORT=abc: exit code 1, one line naming PORT, no stack trace', async () => {
    const { code, stdout, stderr } = await startServer({ PORT: 'abc', AUTH_JWT_SECRET: 'secret' })
    assert.equal(code, 1)
    assertOneLine(stderr, 'PORT')
    assert.equal(stdout, '', 'nothing started, nothing logged')
  })

  test('a malformed ENCRYPTION_KEYS: one line naming it, without the key material', async () => {
    const { code, stderr } = await startServer({
      AUTH_JWT_SECRET: 'secret',
      REDIS_URL: 'redis://127.0.0.1:1',
      ENCRYPTION_KEYS: `k1:${Buffer.alloc(20, 4).toString('base64')}`,
    })
    assert.equal(code, 1)
    assertOneLine(stderr, 'ENCRYPTION_KEYS')
    assert.ok(!stderr.includes(Buffer.alloc(20, 4).toString('base64')))
  })

  test('an unreadable providers file: one line naming PROVIDERS_FILE', async () => {
    const { code, stderr } = await startServer({ AUTH_JWT_SECRET: 'secret', PROVIDERS_FILE: path.join(dir, 'nope.yaml') })
    assert.equal(code, 1)
    assertOneLine(stderr, 'PROVIDERS_FILE')
  })
})
