import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig } from '../../src/config.js'
import { startupWarnings } from '../../src/startup-warnings.js'
import { spawnBroker } from '../helpers/broker-process.js'
import { freePort } from '../helpers/redis-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(path.join(tmpdir(), 'tb-messages-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const BASE = { AUTH_JWT_SECRET: 'messages-test-secret-0123456789abcdef' }
const KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`

let n = 0
function providersFile(text: string, ext = 'yaml'): string {
  const p = path.join(dir, `${++n}.${ext}`)
  writeFileSync(p, text)
  return p
}

/** The whole message of the ConfigError that loadConfig(env) throws. */
function messageOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...BASE, ...env })
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return error.message
  }
  assert.fail('loadConfig did not throw')
}

describe('configuration errors name the fix', () => {
  test('a choice lists the allowed values', () => {
    assert.equal(
      messageOf({ LOG_LEVEL: 'verbose' }),
      'LOG_LEVEL invalid value "verbose" (one of: fatal, error, warn, info, debug, trace, silent)',
    )
  })

  test('numbers give their range, flags true or false, URLs their scheme', () => {
    assert.equal(messageOf({ PORT: '99999' }), 'PORT must be a whole number from 0 to 65535')
    assert.equal(messageOf({ PORT: '80.5' }), 'PORT must be a whole number from 0 to 65535')
    assert.equal(messageOf({ PROACTIVE_REFRESH: 'yes' }), 'PROACTIVE_REFRESH must be true or false')
    assert.equal(messageOf({ REDIS_URL: 'localhost:6379' }), 'REDIS_URL must be a redis:// or rediss:// URL')
    assert.equal(messageOf({ REDIS_CLUSTER_NODES: 'redis-1' }), 'REDIS_CLUSTER_NODES must be host:port[,host:port...]')
  })

  test('the .env.example placeholder of ENCRYPTION_KEYS points at token-broker keys generate', () => {
    const placeholder = /^ENCRYPTION_KEYS=(.*)$/m.exec(readFileSync(path.join(ROOT, '.env.example'), 'utf8'))?.[1]
    assert.ok(placeholder, '.env.example has an ENCRYPTION_KEYS line')
    assert.equal(
      messageOf({ REDIS_URL: 'redis://redis:6379', ENCRYPTION_KEYS: placeholder }),
      'ENCRYPTION_KEYS is still the .env.example placeholder: generate one with `npx token-broker keys generate` and put its output here',
    )
    assert.equal(
      messageOf({ ENCRYPTION_KEYS: 'k1=abc' }),
      'ENCRYPTION_KEYS entries must look like keyId:base64key (generate one with `npx token-broker keys generate`)',
    )
  })

  test('invalid YAML gives line and column', () => {
    const file = providersFile('providers:\n  acme:\n    client_id: [unclosed\n    issuer: x\n')
    assert.match(messageOf({ PROVIDERS_FILE: file }), new RegExp(`^PROVIDERS_FILE ${file} is not valid YAML: line 4, column 5: \\S`))
  })

  test('provider: instead of providers: says "did you mean providers"', () => {
    const file = providersFile('provider:\n  acme: { issuer: "https://id.acme.test", client_id: c }\n')
    assert.equal(
      messageOf({ PROVIDERS_FILE: file }),
      `PROVIDERS_FILE ${file}: has no providers: map (found "provider" (did you mean "providers"?))`,
    )
    const other = providersFile('providers: {}\nextra: 1\n')
    assert.equal(
      messageOf({ PROVIDERS_FILE: other }),
      `PROVIDERS_FILE ${other}: unknown top-level key "extra"; the file holds one key, providers:`,
    )
  })

  test('a provider name states the naming rule', () => {
    const file = providersFile('providers:\n  Acme: { issuer: "https://id.acme.test", client_id: c }\n')
    assert.equal(
      messageOf({ PROVIDERS_FILE: file }),
      `PROVIDERS_FILE ${file}: provider name "Acme" is not allowed: a name is 1-64 lowercase ` +
        'letters, digits, _ or -, starting with a letter or digit (^[a-z0-9][a-z0-9_-]{0,63}$); it appears in URLs (did you mean "acme"?)',
    )
  })

  test('an unknown field suggests the known one; a choice lists its values; a missing field is named', () => {
    const typo = providersFile('providers:\n  acme: { issuer: "https://id.acme.test", client_id: c, client_secrets: s }\n')
    assert.equal(
      messageOf({ PROVIDERS_FILE: typo }),
      `PROVIDERS_FILE ${typo}: provider "acme": unknown field "client_secrets" (did you mean "client_secret"?)`,
    )
    const method = providersFile('providers:\n  acme: { issuer: "https://id.acme.test", client_id: c, token_auth_method: basic }\n')
    assert.equal(
      messageOf({ PROVIDERS_FILE: method }),
      `PROVIDERS_FILE ${method}: provider "acme": token_auth_method must be one of: client_secret_basic, client_secret_post`,
    )
    const missing = providersFile('providers:\n  acme: { issuer: "https://id.acme.test" }\n')
    assert.equal(messageOf({ PROVIDERS_FILE: missing }), `PROVIDERS_FILE ${missing}: provider "acme": client_id is required`)
  })

  test('a provider with some of its variables set and others not names what is missing', () => {
    const file = providersFile(
      'providers:\n  acme:\n    issuer: https://id.acme.test\n    client_id: ${ACME_ID}\n    client_secret: ${ACME_SECRET}\n',
    )
    assert.equal(
      messageOf({ PROVIDERS_FILE: file, ACME_ID: 'id' }),
      'ACME_SECRET is not set (provider "acme" in PROVIDERS_FILE uses ACME_ID, ACME_SECRET: set all of them, or none to skip the provider)',
    )
  })
})

describe('start-up warnings', () => {
  test('a provider none of whose variables is set is skipped, with a warning naming it', () => {
    const file = providersFile(
      'providers:\n  acme:\n    issuer: https://id.acme.test\n    client_id: ${ACME_ID}\n    client_secret: ${ACME_SECRET}\n' +
        '  plain: { issuer: "https://id.plain.test", client_id: c }\n',
    )
    const config = loadConfig({ ...BASE, PROVIDERS_FILE: file, ENCRYPTION_KEYS: KEYS })
    assert.deepEqual(
      config.providers.map((p) => p.name),
      ['plain'],
    )
    assert.deepEqual(startupWarnings(config), [
      'REDIS_URL is not set: using the embedded in-memory store (one instance, nothing survives a restart)',
      `provider "acme" in ${file} is skipped: none of ACME_ID, ACME_SECRET is set`,
    ])
  })

  test('no provider at all names the file to create', () => {
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      assert.deepEqual(startupWarnings(loadConfig({ ...BASE, ENCRYPTION_KEYS: KEYS })).slice(1), [
        'no provider is configured: create providers.yaml in the working directory (start from providers.example.yaml) ' +
          'or set PROVIDERS_FILE; until then nothing can be linked',
      ])
    } finally {
      process.chdir(cwd)
    }
  })

  test('npm start without providers warns, and a closed Redis port is logged with its address and cause', async (t) => {
    const port = await freePort()
    const broker = await spawnBroker({ ...BASE, REDIS_URL: `redis://127.0.0.1:${port}`, ENCRYPTION_KEYS: KEYS })
    t.after(() => broker.kill())
    const lines = broker
      .output()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string })
    assert.ok(
      lines.some((l) => l.level === 40 && l.msg.startsWith('no provider is configured: create providers.yaml')),
      broker.output(),
    )
    assert.ok(
      lines.some(
        (l) => l.level === 50 && l.msg === `cannot connect to Redis: connect ECONNREFUSED 127.0.0.1:${port}; retrying in the background`,
      ),
      broker.output(),
    )
  })
})
