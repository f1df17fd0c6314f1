import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../../src/config-error.js'
import { parseProviders, type ProviderConfig } from '../../src/providers/providers-file.js'
import { OAUTH2_DEFAULTS, type ProviderTemplate } from '../../src/providers/template.js'
import { TEMPLATES } from '../../src/providers/templates/index.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const TEMPLATE_DIR = path.join(ROOT, 'src/providers/templates')

/** The built-in templates the issue names, each in a file of its own name. */
const BUILT_IN = [
  'google',
  'github',
  'microsoft',
  'slack',
  'discord',
  'gitlab',
  'atlassian',
  'dropbox',
  'salesforce',
  'notion',
  'hubspot',
  'xero',
]
const URL_FIELDS = ['issuer', 'authorizationUrl', 'tokenUrl', 'revocationUrl'] as const
const REVOCATION = ['rfc7009', 'rfc7009-no-auth', 'bearer', 'github-grant', 'token-path', 'none']

const providers = (entries: Record<string, Record<string, unknown>>, env: NodeJS.ProcessEnv = {}) =>
  new Map(parseProviders({ providers: entries }, env).map((p) => [p.name, p]))
const one = (entry: Record<string, unknown>): ProviderConfig => providers({ p: entry }).get('p')!

describe('template catalog', () => {
  test('every built-in template is registered under its file name, and every template file is registered', () => {
    const files = readdirSync(TEMPLATE_DIR)
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .map((f) => f.replace(/\.ts$/, ''))
    assert.deepEqual(files.sort(), [...BUILT_IN].sort())
    for (const name of BUILT_IN) assert.ok(TEMPLATES[name], `${name} is registered`)
    assert.equal(TEMPLATES.oauth2, OAUTH2_DEFAULTS)
  })

  const NUMERIC_OPTIONAL = new Set<string>(['defaultExpiresIn', 'refreshTokenIdleTtl'])
  for (const [name, template] of Object.entries(TEMPLATES)) {
    test(`${name}: only known fields, each of the default's type`, () => {
      const known = new Set<string>([...Object.keys(OAUTH2_DEFAULTS), ...URL_FIELDS])
      for (const key of Object.keys(template)) assert.ok(known.has(key), `unknown field ${key}`)
      for (const [key, value] of Object.entries(OAUTH2_DEFAULTS) as [keyof ProviderTemplate, unknown][]) {
        const actual = template[key]
        assert.ok(actual !== undefined, `${key} is set`)
        if (value === null && NUMERIC_OPTIONAL.has(key))
          assert.ok(actual === null || (Number.isInteger(actual) && (actual as number) > 0), `${key}: positive integer or null`)
        else if (value === null) assert.ok(actual === null || typeof actual === 'string', `${key}: string or null`)
        else if (Array.isArray(value)) assert.ok(Array.isArray(actual) && actual.every((v) => typeof v === 'string'), `${key}: string[]`)
        else if (typeof value === 'object') {
          assert.ok(actual && typeof actual === 'object' && !Array.isArray(actual), `${key}: record`)
          for (const v of Object.values(actual as object)) assert.equal(typeof v, 'string', `${key}: string values`)
        } else assert.equal(typeof actual, typeof value, `${key}: ${typeof value}`)
      }
      for (const key of URL_FIELDS) {
        const v = template[key]
        assert.ok(v === undefined || typeof v === 'string', `${key}: string when set`)
      }
    })

    test(`${name}: values are in range and consistent`, () => {
      assert.ok(['client_secret_basic', 'client_secret_post'].includes(template.tokenAuthMethod))
      assert.ok(['form', 'json'].includes(template.bodyFormat))
      assert.ok(['none', 'always', 'optional'].includes(template.rotation))
      assert.ok(['none', 'error-field', 'ok-false'].includes(template.errorIn200))
      assert.ok(REVOCATION.includes(template.revocation), `revocation ${template.revocation}`)
      assert.ok(Number.isInteger(template.reuseGraceSeconds) && template.reuseGraceSeconds >= 0 && template.reuseGraceSeconds <= 86_400)
      if (template.reuseGraceSeconds > 0) assert.notEqual(template.rotation, 'none', 'a reuse grace only makes sense with rotation')
      assert.ok(template.invalidGrantErrors.includes('invalid_grant'), 'RFC 6749 invalid_grant always means a dead grant')
      assert.ok(template.clientErrors.includes('invalid_client'))
      assert.ok(template.errorFields.length > 0)
      assert.equal(template.invalidGrantErrors.filter((e) => template.clientErrors.includes(e)).length, 0, 'no code is both')
      assert.ok(template.scopeSeparator.length > 0 && template.responseScopeSeparator.length > 0)
      assert.match(template.scopeParam, /^[a-z_]+$/)
      for (const header of Object.keys(template.requestHeaders)) {
        assert.ok(!['authorization', 'content-type'].includes(header.toLowerCase()), 'templates never set credentials or the body type')
      }
      if (template.revocation === 'none') assert.equal(template.revocationUrl, undefined, 'no revocation URL without a revocation method')
    })

    if (name !== 'oauth2' && name !== 'oidc') {
      test(`${name}: production endpoints over https, placeholders fillable`, () => {
        assert.ok(template.authorizationUrl && template.tokenUrl, 'both endpoints')
        if (template.revocation !== 'none') assert.ok(template.revocationUrl, 'a revocation URL for its revocation method')
        for (const key of URL_FIELDS) {
          const raw = template[key]
          if (raw === undefined) continue
          const placeholders = [...raw.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!)
          for (const p of placeholders) assert.ok(p === 'client_id' || p in template.urlParams, `${key}: {${p}} has a default`)
          const url = new URL(raw.replace(/\{[a-z_]+\}/g, 'x'))
          assert.equal(url.protocol, 'https:', `${key} is https`)
          assert.equal(url.username + url.password + url.search + url.hash, '', `${key}: no credentials, query or fragment`)
        }
      })

      test(`${name}: "{ template, client_id, client_secret }" is a complete provider`, () => {
        const p = one({ template: name, client_id: 'id-1', client_secret: 's-1' })
        assert.equal(p.template, name)
        const expand = (url: string | undefined) =>
          url?.replace(/\{([a-z_]+)\}/g, (_, k: string) => (k === 'client_id' ? 'id-1' : template.urlParams[k]!))
        for (const key of URL_FIELDS) {
          assert.equal(p[key], expand(template[key]), `${key} is the template's`)
          assert.ok(p[key] === undefined || !/[{}]/.test(p[key]!), `${key} fully filled`)
        }
        assert.deepEqual(p.clientSecrets, ['s-1'])
        assert.deepEqual(p.scopes, template.scopes)
        assert.deepEqual(p.authorizeParams, template.authorizeParams)
      })
    }
  }
})

describe('templates through the providers file', () => {
  test('google: template, client_id and client_secret are enough', () => {
    const p = one({ template: 'google', client_id: 'gid', client_secret: 'gsecret' })
    assert.equal(p.authorizationUrl, 'https://accounts.google.com/o/oauth2/v2/auth')
    assert.equal(p.tokenUrl, 'https://oauth2.googleapis.com/token')
    assert.equal(p.revocationUrl, 'https://oauth2.googleapis.com/revoke')
    assert.equal(p.revocation, 'rfc7009-no-auth')
    assert.deepEqual(p.authorizeParams, { access_type: 'offline', prompt: 'consent' })
    assert.equal(p.rotation, 'none')
    assert.equal(p.clientId, 'gid')
  })

  test('microsoft: params.tenant fills the URLs; the default tenant is common', () => {
    const contoso = one({ template: 'microsoft', client_id: 'm', client_secret: 's', params: { tenant: 'contoso' } })
    assert.equal(contoso.authorizationUrl, 'https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize')
    assert.equal(contoso.tokenUrl, 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token')
    const common = one({ template: 'microsoft', client_id: 'm', client_secret: 's' })
    assert.equal(common.tokenUrl, 'https://login.microsoftonline.com/common/oauth2/v2.0/token')
    const hostile = one({ template: 'microsoft', client_id: 'm', client_secret: 's', params: { tenant: '../evil?x=' } })
    assert.equal(new URL(hostile.tokenUrl!).host, 'login.microsoftonline.com', 'a param cannot leave its path segment')
    assert.match(hostile.tokenUrl!, /\/\.\.%2Fevil%3Fx%3D\/oauth2\//)
  })

  test('github: the revocation URL carries the client id', () => {
    const p = one({ template: 'github', client_id: 'Iv1.abc', client_secret: 's' })
    assert.equal(p.revocationUrl, 'https://api.github.com/applications/Iv1.abc/grant')
    assert.equal(p.revocation, 'github-grant')
  })

  test('endpoint fields next to a template override it; the rest of the template stays', () => {
    const p = one({
      template: 'slack',
      client_id: 'c',
      client_secret: 's',
      authorization_url: 'https://slack.example.test/authorize',
      token_url: 'http://127.0.0.1:9/token',
      revocation_url: 'https://slack.example.test/revoke',
      token_auth_method: 'client_secret_post',
      scopes: ['chat:write'],
    })
    assert.equal(p.authorizationUrl, 'https://slack.example.test/authorize')
    assert.equal(p.tokenUrl, 'http://127.0.0.1:9/token')
    assert.equal(p.revocationUrl, 'https://slack.example.test/revoke')
    assert.equal(p.tokenAuthMethod, 'client_secret_post')
    assert.deepEqual(p.scopes, ['chat:write'])
    assert.equal(p.tokenPath, 'authed_user')
    assert.equal(p.errorIn200, 'ok-false')
  })

  test('a list of client secrets is kept in order', () => {
    const p = providers({ p: { template: 'xero', client_id: 'c', client_secret: ['${NEW_SECRET}', 'old'] } }, { NEW_SECRET: 'new' }).get(
      'p',
    )!
    assert.deepEqual(p.clientSecrets, ['new', 'old'])
    assert.equal(p.reuseGraceSeconds, 1800)
  })

  test('an unknown template is a config error', () => {
    assert.throws(
      () => one({ template: 'myspace', client_id: 'c' }),
      (e: unknown) => e instanceof ConfigError && /unknown template "myspace"/.test(e.message),
    )
  })
})

describe('no provider-name branches in code', () => {
  const names = Object.keys(TEMPLATES).filter((n) => n !== 'oauth2' && n !== 'oidc')
  const hosts = [
    ...new Set(
      Object.values(TEMPLATES)
        .flatMap((t) => URL_FIELDS.map((k) => t[k]).filter((u): u is string => !!u))
        .map((u) => new URL(u.replace(/\{[a-z_]+\}/g, 'x')).hostname.split('.').slice(-2).join('.')),
    ),
  ]

  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const full = path.join(dir, entry)
      return statSync(full).isDirectory() ? sources(full) : full.endsWith('.ts') ? [full] : []
    })
  const outside = sources(path.join(ROOT, 'src')).filter((f) => !f.startsWith(TEMPLATE_DIR + path.sep))

  test('no string literal outside src/providers/templates/ names a built-in template or its host', () => {
    assert.ok(outside.length > 10 && hosts.includes('github.com') && hosts.includes('googleapis.com'))
    const literal = new RegExp(`(['"\`])(${names.join('|')})\\1`, 'i')
    const host = new RegExp(`(['"\`/])[^'"\`\\n]*\\b(${hosts.map((h) => h.replace(/\./g, '\\.')).join('|')})\\b`, 'i')
    const offenders: string[] = []
    for (const file of outside) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line
            .replace(/(^|\s)\/\/.*$/, '')
            .replace(/^\s*\*.*$/, '')
            .replace(/\/\*.*?\*\//g, '')
          if (literal.test(code) || host.test(code)) offenders.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`)
        })
    }
    assert.deepEqual(offenders, [])
  })

  test('no comparison against a template name: behaviour comes from template fields', () => {
    const offenders: string[] = []
    for (const file of outside) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (
            /\btemplate\s*[!=]==?|[!=]==?\s*[\w.]*\btemplate\b|case\s+['"`]\w+['"`]\s*:.*template|switch\s*\([^)]*\btemplate\b/.test(line)
          ) {
            offenders.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`)
          }
        })
    }
    assert.deepEqual(offenders, [])
  })
})
