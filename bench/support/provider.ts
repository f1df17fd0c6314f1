import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A token endpoint that answers every refresh after `delayMs` with a fresh token of
 * `expiresIn` seconds, counting calls and the most calls it held at once.
 */
export async function startProvider(o: { delayMs: number; expiresIn: number }) {
  let calls = 0
  let inFlight = 0
  let peak = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const n = ++calls
      peak = Math.max(peak, ++inFlight)
      setTimeout(() => {
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
    reset: () => {
      calls = 0
      peak = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
