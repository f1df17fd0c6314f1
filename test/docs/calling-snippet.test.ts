import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { callerToken } from '../helpers/app.js'
import { brokerFor } from '../helpers/brokers.js'
import { importGrant } from '../helpers/grants.js'
import { rotatingTokens, startStubProvider } from '../helpers/stub-provider.js'

const CALLING = new URL('../../docs/calling.md', import.meta.url)

test("the Node snippet of docs/calling.md gets a token and, on the provider's 401, one refreshed token", async (t) => {
  const stub = await startStubProvider()
  stub.handle('/token', rotatingTokens())
  const { app } = await brokerFor(stub)
  t.after(async () => {
    await app.close()
    await stub.close()
  })
  await importGrant(app, 'crm-prod', { access_token: 'imported-at', refresh_token: 'rt-0', expires_in: 3600 })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })

  const snippet = /```js\n([\s\S]*?)```/.exec(readFileSync(CALLING, 'utf8'))?.[1]
  assert.ok(snippet, 'docs/calling.md has a js block')
  const dir = mkdtempSync(join(tmpdir(), 'tb-snippet-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'broker.mjs'), snippet)
  process.env.TOKEN_BROKER_URL = url
  process.env.TB_TOKEN = callerToken({ scopes: ['tokens:read'], accounts: ['crm-*'] })
  const { withProviderToken } = (await import(pathToFileURL(join(dir, 'broker.mjs')).href)) as {
    withProviderToken: (account: string, call: (token: string) => Promise<{ status: number }>) => Promise<{ status: number }>
  }

  const seen: string[] = []
  const res = await withProviderToken('crm-prod', async (token) => {
    seen.push(token)
    return { status: seen.length === 1 ? 401 : 200 } // the provider refuses the first token
  })
  assert.equal(res.status, 200)
  assert.deepEqual(seen, ['imported-at', 'at-1'])
  assert.equal(stub.count('/token'), 1, 'one refresh')
})
