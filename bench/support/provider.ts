import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One token request: the refresh token presented, and when it came and was answered (epoch ms, to the microsecond). */
export interface ProviderCall {
  refreshToken: string
  from: number
  to: number
}

/** Epoch milliseconds with the monotonic clock's precision, as the readers time their requests. */
const epochNow = () => performance.timeOrigin + performance.now()

/**
 * A token endpoint that answers every refresh after `delayMs` with a fresh token of
 * `expiresIn` seconds, counting calls and the most calls it held at once, and logging each.
 */
export async function startProvider(o: { delayMs: number; expiresIn: number }) {
  let calls = 0
  let inFlight = 0
  let peak = 0
  const log: ProviderCall[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      const n = ++calls
      peak = Math.max(peak, ++inFlight)
      const call = { refreshToken: new URLSearchParams(body).get('refresh_token') ?? '', from: epochNow(), to: 0 }
      log.push(call)
      setTimeout(() => {
        call.to = epochNow()
        inFlight--
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({ access_token: `fresh-at-${n}`, refresh_token: `fresh-rt-${n}`, expires_in: o.expiresIn, token_type: 'Bearer' }),
        )
      }, o.delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    tokenUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    calls: () => calls,
    peak: () => peak,
    log: () => log,
    reset: () => {
      calls = 0
      peak = 0
      log.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
