import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StubRequest {
  path: string
  headers: IncomingMessage['headers']
  /** The form or JSON body, parsed. */
  body: Record<string, string>
}

export type StubHandler = (req: StubRequest, res: ServerResponse) => void | Promise<void>

/**
 * A tiny provider on loopback for quirks a real authorization server cannot show
 * (errors in HTTP 200, missing refresh tokens, 503s, hangs). Counts every request.
 */
export interface StubProvider {
  url: string
  requests: StubRequest[]
  /** Requests to one path. */
  count(path: string): number
  /** Requests in flight right now, and the most there ever were at once. */
  inFlight: number
  maxInFlight: number
  handle(path: string, handler: StubHandler): void
  close(): Promise<void>
}

export async function startStubProvider(): Promise<StubProvider> {
  const handlers = new Map<string, StubHandler>()
  const stub: StubProvider = {
    url: '',
    requests: [],
    count: (path) => stub.requests.filter((r) => r.path === path).length,
    inFlight: 0,
    maxInFlight: 0,
    handle: (path, handler) => void handlers.set(path, handler),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const type = req.headers['content-type'] ?? ''
    const body =
      type.includes('json') && text ? (JSON.parse(text) as Record<string, string>) : Object.fromEntries(new URLSearchParams(text))
    const path = (req.url ?? '/').split('?')[0]!
    const record = { path, headers: req.headers, body }
    stub.requests.push(record)
    stub.inFlight++
    stub.maxInFlight = Math.max(stub.maxInFlight, stub.inFlight)
    res.on('close', () => {
      stub.inFlight--
    })
    const handler = handlers.get(path)
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
      return
    }
    await handler(record, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return stub
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** A token endpoint that hands out numbered tokens: at-1, at-2 ... and rotating rt-1, rt-2 ... */
export function rotatingTokens(prefix = '', opts: { expiresIn?: number; rotate?: boolean; delayMs?: number } = {}): StubHandler {
  let n = 0
  return async (_req, res) => {
    n++
    const issued = n
    if (opts.delayMs) await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
    json(res, 200, {
      access_token: `${prefix}at-${issued}`,
      token_type: 'bearer',
      expires_in: opts.expiresIn ?? 3600,
      ...(opts.rotate === false ? {} : { refresh_token: `${prefix}rt-${issued}` }),
    })
  }
}

/**
 * A token endpoint whose first call is held until `release()` (a holder stuck at the
 * provider); later calls answer at once. Tokens are `${prefix}at-N` / `${prefix}rt-N`.
 */
export function gatedTokens(prefix: string, expiresIn = 3600) {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  let calls = 0
  const handler: StubHandler = async (_req, res) => {
    const n = ++calls
    if (n === 1) await gate
    json(res, 200, { access_token: `${prefix}at-${n}`, refresh_token: `${prefix}rt-${n}`, expires_in: expiresIn, token_type: 'Bearer' })
  }
  return { handler, release, calls: () => calls }
}
