import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.js'
import { startupWarnings } from '../../src/startup-warnings.js'
import { compose, envExample, ROOT, runtimeStage } from './files.js'

const FILLED = {
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
  AUTH_JWT_SECRET: 'a-long-random-secret-0123456789abcdef',
}

/**
 * The broker container's environment as Docker Compose builds it: the image's ENV, then
 * .env (a copy of .env.example with `filled` applied), then compose's `environment`. Paths in
 * the image are mapped to the files COPYed there from the repository.
 */
function containerEnv(filled: Record<string, string>): Record<string, string> {
  const stage = runtimeStage()
  const broker = compose().services.broker!
  const env: Record<string, string> = { ...stage.env, ...envExample().values, ...filled, ...broker.environment }
  for (const [source, target] of stage.copies) {
    const inImage = posix.resolve('/app', target)
    for (const [k, v] of Object.entries(env)) if (v === inImage) env[k] = join(ROOT, source)
  }
  return env
}

describe('docker compose up after cp .env.example .env', () => {
  test('.env.example marks exactly two variables REQUIRED', () => {
    assert.deepEqual(envExample().required, ['ENCRYPTION_KEYS', 'AUTH_JWT_SECRET'])
  })

  test("the broker's config loads with only the REQUIRED variables filled; the example providers wait for theirs", () => {
    const env = containerEnv(FILLED)
    assert.equal(env.PROVIDERS_FILE, join(ROOT, 'providers.example.yaml'), 'the image carries the example providers file')
    const config = loadConfig(env)
    assert.equal(config.production, true)
    assert.deepEqual(config.store, { kind: 'standalone', url: 'redis://redis:6379' })
    assert.deepEqual(config.providers, [])
    assert.deepEqual(
      config.skippedProviders.map((p) => p.name),
      ['google', 'github', 'microsoft', 'acme'],
    )
    assert.ok(
      startupWarnings(config).includes(
        `no provider is configured: set the variables of a provider in ${env.PROVIDERS_FILE}; until then nothing can be linked`,
      ),
    )
  })

  test("setting one provider's variables (listed in .env.example) enables it", () => {
    const { commented } = envExample()
    const used = [
      ...readFileSync(join(ROOT, 'providers.example.yaml'), 'utf8')
        .replace(/^\s*#.*$/gm, '')
        .matchAll(/\$\{(\w+)\}/g),
    ].map((m) => m[1]!)
    for (const name of used) assert.ok(commented.includes(name), `.env.example lists ${name}`)
    const config = loadConfig(containerEnv({ ...FILLED, GITHUB_CLIENT_ID: 'gh-id', GITHUB_CLIENT_SECRET: 'gh-secret' }))
    assert.deepEqual(
      config.providers.map((p) => [p.name, p.clientId, p.clientSecrets]),
      [['github', 'gh-id', ['gh-secret']]],
    )
  })

  test('left as copied, the broker stops with a line pointing at keys generate', () => {
    assert.throws(
      () => loadConfig(containerEnv({ AUTH_JWT_SECRET: FILLED.AUTH_JWT_SECRET })),
      (e: unknown) => e instanceof ConfigError && e.variable === 'ENCRYPTION_KEYS' && e.message.includes('npx token-broker keys generate'),
    )
  })

  test('compose publishes on loopback only, runs Redis with AOF, and never bind-mounts a missing file', () => {
    const { services } = compose()
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port}`)
      for (const volume of service.volumes ?? []) {
        // Short syntax `./file:/path` makes Docker create a directory when ./file is missing.
        if (typeof volume === 'string') assert.ok(!/^[./~]/.test(volume), `${name}: ${volume} is a short-syntax bind mount`)
        else
          assert.equal(
            (volume as { bind?: { create_host_path?: boolean } }).bind?.create_host_path,
            false,
            `${name}: a bind mount may create its source`,
          )
      }
    }
    const redis = services.redis!.command!.join(' ')
    assert.match(redis, /--appendonly yes/)
    assert.equal(services.broker!.env_file, '.env')
    assert.doesNotMatch(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), /^\s+- \.\/providers\.yaml:/m)
  })
})
