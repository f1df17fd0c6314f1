import assert from 'node:assert/strict'
import { STATUS_CODES } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { callerToken } from '../helpers/app.js'
import { storeApp } from '../helpers/brokers.js'
import { waitFor, within } from '../helpers/wait.js'
import { assertError } from '../http/support.js'

async function listening(t: TestContext, env: Record<string, string> = {}) {
  const { app } = await storeApp(t, 'memory', null, { env })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

/** Sends raw bytes; resolves with everything the server wrote once it closes the socket. */
function rawExchange(port: number, ...chunks: string[]): { socket: Socket; reply: Promise<string> } {
  const socket = connect(port, '127.0.0.1')
  const received: Buffer[] = []
  const reply = new Promise<string>((resolve) => {
    socket.on('data', (d) => received.push(d))
    socket.on('error', () => {})
    socket.on('close', () => resolve(Buffer.concat(received).toString('utf8')))
  })
  socket.on('connect', () => {
    for (const c of chunks) socket.write(c)
  })
  return { socket, reply }
}

function parse(raw: string): { status: number; body: Record<string, unknown> } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1])
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  return { status, body: JSON.parse(body) as Record<string, unknown> }
}

const assertShape = (raw: string, status: number, code: string) => {
  const { status: got, body } = parse(raw)
  assert.equal(got, status, raw)
  assert.deepEqual(body, { statusCode: status, code, error: STATUS_CODES[status], message: body.message }, raw)
  assert.match(String(body.message), /\S/)
}

test('a client trickling a chunked body is cut off after REQUEST_TIMEOUT_MS', async (t) => {
  const port = await listening(t, { REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '1000' })
  const token = callerToken()
  const { socket, reply } = rawExchange(
    port,
    `POST /connect/acme HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`,
  )
  const trickle = setInterval(() => {
    if (!socket.destroyed) socket.write('1\r\n \r\n')
  }, 300)
  try {
    // Generous deadline: the point is that the server closes it at all (Node's default is never).
    const raw = await within('the server closing the slow socket', reply, 30_000)
    assertShape(raw, 408, 'REQUEST_TIMEOUT')
  } finally {
    clearInterval(trickle)
    socket.destroy()
  }
})

test("errors of the HTTP parser answer the contract's four fields", async (t) => {
  const port = await listening(t)
  const cases: [string, string, number, string][] = [
    ['malformed header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400, 'VALIDATION_ERROR'],
    [
      'Content-Length with Transfer-Encoding',
      'POST /connect/acme HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'VALIDATION_ERROR',
    ],
    ['NUL in the path', 'GET /health\u0000z HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'VALIDATION_ERROR'],
    ['headers over the limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['not HTTP at all', 'HELLO\r\n\r\n', 400, 'VALIDATION_ERROR'],
    [
      'an Expect other than 100-continue',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n',
      417,
      'EXPECTATION_FAILED',
    ],
  ]
  for (const [what, request, status, code] of cases) {
    const { reply } = rawExchange(port, request)
    const raw = await within(what, reply, 15_000)
    await t.test(what, () => assertShape(raw, status, code))
  }
})

test('under pressure the broker sheds load: 503 OVERLOADED with Retry-After, probes still answer', async (t) => {
  // A heap limit of 1 MiB is always exceeded: the shedding path, deterministically.
  const { app } = await storeApp(t, 'memory', null, { env: { OVERLOAD_MAX_HEAP_MB: '1' } })
  const headers = { authorization: `Bearer ${callerToken()}` }
  const shed = await waitFor(
    'a shed request',
    async () => {
      const res = await app.inject({ method: 'GET', url: '/accounts', headers })
      return res.statusCode === 503 ? res : undefined
    },
    { timeoutMs: 15_000 },
  )
  assertError(shed, 503, 'OVERLOADED')
  assert.match(String(shed.headers['retry-after']), /^\d+$/)
  for (const url of ['/healthz', '/readyz', '/metrics']) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url)
  assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /requests_shed_total\{reason="heapUsedBytes"\} \d+/)
})
