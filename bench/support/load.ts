/**
 * The load generator, in a process of its own: autocannon against one URL pattern, the
 * account cycling over `accounts` ids (`{n}` in the path), for `seconds`.
 */
import autocannon from 'autocannon'
import { serve, usage } from './processes.js'

export interface LoadRequest {
  url: string
  path: string
  accounts: number
  headers: Record<string, string>
  connections: number
  seconds: number
  /** Stop after this many requests instead (seconds is then ignored). */
  amount?: number
}

export interface LoadResult {
  requests: number
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
}

async function run(r: LoadRequest): Promise<LoadResult> {
  let n = 0
  const result = await autocannon({
    url: r.url,
    connections: r.connections,
    ...(r.amount ? { amount: r.amount } : { duration: r.seconds }),
    headers: r.headers,
    requests: [
      {
        setupRequest: (req) => ({ ...req, path: r.path.replace('{n}', String(n++ % r.accounts)) }),
      },
    ],
  })
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
}

serve({}, async (m) => (m.run ? { ...(await run(m.run as LoadRequest)) } : usage()))
