import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ProviderNetworkError, providerFetch } from '../../src/providers/http.js'

const TIMEOUT_MS = 3000

/** Blocks the event loop until `until` (performance.now()): what a SIGSTOP or a VM pause does to a process. */
function stall(until: number): void {
  while (performance.now() < until) {
    /* busy */
  }
}

/** A provider that answers with `answer`, which calls `stallNow` once its bytes are with the kernel. */
async function stalledCall(answer: (res: ServerResponse, stallNow: () => void) => void): Promise<unknown> {
  let started = 0
  const server = createServer((_req, res) => answer(res, () => stall(started + TIMEOUT_MS + 2000)))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const { port } = server.address() as AddressInfo
    started = performance.now()
    return await providerFetch(`http://127.0.0.1:${port}/token`, { method: 'POST', body: 'grant_type=refresh_token' }, TIMEOUT_MS).catch(
      (error: unknown) => error,
    )
  } finally {
    server.closeAllConnections()
    server.close()
  }
}

test('an answer that arrived while the process was stalled past the timeout is used, not thrown away', async () => {
  const result = await stalledCall((res, stallNow) => {
    res.on('finish', stallNow)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ access_token: 'at-new', refresh_token: 'rt-rotated', expires_in: 3600 }))
  })
  assert.ok(!(result instanceof Error), `the call failed: ${String(result)}`)
  assert.deepEqual((result as { body: unknown }).body, { access_token: 'at-new', refresh_token: 'rt-rotated', expires_in: 3600 })
})

test('a stalled process still times out a call whose answer never came', async () => {
  // The headers arrive before the stall, the body never does: the deadline ends the body.
  const result = await stalledCall((res, stallNow) => {
    res.setHeader('content-type', 'application/json')
    res.flushHeaders()
    setImmediate(stallNow)
  })
  assert.ok(result instanceof ProviderNetworkError, String(result))
  assert.equal(result.reason, 'timeout')
})
