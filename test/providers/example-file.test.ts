import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { loadProviders } from '../../src/providers/providers-file.js'

const EXAMPLE = fileURLToPath(new URL('../../providers.example.yaml', import.meta.url))

test('providers.example.yaml loads every provider whose variables are set, and skips the others', () => {
  const env = Object.fromEntries(
    [
      'GOOGLE_CLIENT_ID',
      'GOOGLE_CLIENT_SECRET',
      'GITHUB_CLIENT_ID',
      'GITHUB_CLIENT_SECRET',
      'MICROSOFT_CLIENT_ID',
      'MICROSOFT_CLIENT_SECRET',
      'ACME_CLIENT_ID',
      'ACME_CLIENT_SECRET',
    ].map((name) => [name, `${name.toLowerCase()}-value`]),
  )
  const all = loadProviders(EXAMPLE, env)
  assert.deepEqual(
    all.providers.map((p) => [p.name, p.template]),
    [
      ['google', 'google'],
      ['github', 'github'],
      ['microsoft', 'microsoft'],
      ['acme', 'oidc'],
    ],
  )
  assert.deepEqual(all.providers[1]!.clientSecrets, ['github_client_secret-value'])
  assert.match(all.providers[2]!.tokenUrl!, /\/common\//)
  assert.deepEqual(all.skipped, [])

  const some = loadProviders(EXAMPLE, { GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'secret' })
  assert.deepEqual(
    some.providers.map((p) => p.name),
    ['github'],
  )
  assert.deepEqual(some.skipped, [
    { name: 'google', variables: ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET'] },
    { name: 'microsoft', variables: ['MICROSOFT_CLIENT_ID', 'MICROSOFT_CLIENT_SECRET'] },
    { name: 'acme', variables: ['ACME_CLIENT_ID', 'ACME_CLIENT_SECRET'] },
  ])
})
