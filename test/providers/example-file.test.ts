import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { loadProvidersFile } from '../../src/providers/providers-file.js'

const EXAMPLE = fileURLToPath(new URL('../../providers.example.yaml', import.meta.url))

test('providers.example.yaml, as the README tells users to copy it, loads', () => {
  const env = Object.fromEntries(['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET',
    'GITHUB_CLIENT_SECRET_OLD', 'MICROSOFT_TENANT', 'MICROSOFT_CLIENT_ID', 'MICROSOFT_CLIENT_SECRET', 'ACME_CLIENT_ID',
    'ACME_CLIENT_SECRET'].map((name) => [name, `${name.toLowerCase()}-value`]))
  const providers = loadProvidersFile(EXAMPLE, env)
  assert.deepEqual(providers.map((p) => [p.name, p.template]), [['google', 'google'], ['github', 'github'], ['microsoft', 'microsoft'], ['acme', 'oidc']])
  assert.deepEqual(providers[1]!.clientSecrets, ['github_client_secret-value', 'github_client_secret_old-value'])
  assert.match(providers[2]!.tokenUrl!, /microsoft_tenant-value/)
})
