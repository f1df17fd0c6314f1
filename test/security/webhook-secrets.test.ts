import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig, ConfigError } from '../../src/config.js'
import { verifyWebhookSignature } from '../../src/events/webhook-signature.js'
import { testApp } from '../helpers/app.js'
import { stubProvider } from '../helpers/providers-file.js'
import { startStubProvider } from '../helpers/stub-provider.js'
import { waitFor } from '../helpers/wait.js'
import { Secrets, importAccount, scriptedProvider } from '../events/scenario.js'
import { startReceiver } from '../events/support.js'

const SECRET_A = 'receiver-a-secret-0123456789'
const SECRET_B = 'receiver-b-secret-9876543210'

test('each receiver has its own secret: A cannot verify (or forge) what B receives; the delivery id is signed', async (t) => {
  const stub = await startStubProvider()
  const a = await startReceiver({ secret: SECRET_A })
  const b = await startReceiver({ secret: SECRET_B })
  const { app } = await testApp({
    providers: { stub: stubProvider(stub) },
    env: { WEBHOOK_URLS: `${a.url}|${SECRET_A},${b.url}|${SECRET_B}` },
    deps: { webhooks: { intervalMs: 20, backoffBaseMs: 10, backoffMaxMs: 40 } },
  })
  t.after(async () => {
    await app.close()
    await stub.close()
    await a.down()
    await b.down()
  })
  const secrets = new Secrets()
  scriptedProvider(stub, secrets)
  await importAccount(app, secrets, 'acct-1', { refresh_token: secrets.token('rt-1') })
  const revoked = await app.inject({ method: 'DELETE', url: '/tokens/acct-1', headers: secrets.caller() })
  assert.equal(revoked.statusCode, 200)
  await waitFor('both deliveries', async () => {
    await app.webhooks!.tick()
    return a.accepted().length === 1 && b.accepted().length === 1 ? true : undefined
  })
  const [toA, toB] = [a.accepted()[0]!, b.accepted()[0]!]
  const h = (d: typeof toA, name: string) => d.headers[name] as string
  // Each verified with its own secret (the receivers answered 2xx); neither verifies with the other's.
  assert.equal(verifyWebhookSignature(SECRET_A, h(toB, 'x-token-broker-timestamp'), toB.body, h(toB, 'x-token-broker-signature')), false)
  assert.equal(verifyWebhookSignature(SECRET_B, h(toA, 'x-token-broker-timestamp'), toA.body, h(toA, 'x-token-broker-signature')), false)
  for (const d of [toA, toB]) {
    const body = JSON.parse(d.body) as { id: string; delivery_id: string }
    assert.equal(body.delivery_id, h(d, 'x-token-broker-delivery'))
  }
  const [bodyA, bodyB] = [JSON.parse(toA.body), JSON.parse(toB.body)] as { id: string; delivery_id: string }[]
  assert.equal(bodyA!.id, bodyB!.id, 'one event')
  assert.notEqual(bodyA!.delivery_id, bodyB!.delivery_id, 'two deliveries')
})

test('WEBHOOK_URLS entries url|secret: WEBHOOK_SECRET needed only for entries without one; short secrets refused, never echoed', () => {
  const base = { AUTH_JWT_SECRET: 'z'.repeat(32) }
  const c = loadConfig({ ...base, WEBHOOK_URLS: `https://a.example/h|${SECRET_A}, https://b.example/h|${SECRET_B}` })
  assert.deepEqual(c.webhookUrls, ['https://a.example/h', 'https://b.example/h'])
  assert.deepEqual(c.webhookSecrets, { 'https://a.example/h': SECRET_A, 'https://b.example/h': SECRET_B })
  assert.equal(c.webhookSecret, null)
  const mixed = loadConfig({
    ...base,
    WEBHOOK_URLS: `https://a.example/h|${SECRET_A},https://c.example/h`,
    WEBHOOK_SECRET: 'shared-secret-0123456789',
  })
  assert.deepEqual(mixed.webhookSecrets, { 'https://a.example/h': SECRET_A })
  assert.throws(
    () => loadConfig({ ...base, WEBHOOK_URLS: `https://a.example/h|${SECRET_A},https://c.example/h` }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'WEBHOOK_SECRET',
  )
  assert.throws(
    () => loadConfig({ ...base, WEBHOOK_URLS: 'https://a.example/h|tooshort-xyz' }),
    (e: unknown) =>
      e instanceof ConfigError && e.variable === 'WEBHOOK_URLS' && /entry 1/.test(e.message) && !e.message.includes('tooshort-xyz'),
  )
})
