import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { IssuedToken } from '../broker/results.js'
import type { EventContext } from '../events/events.js'
import type { Caller } from './caller.js'
import { ACCOUNT_ID_PATTERN } from './schemas/common.js'
import { accessBody } from './views.js'

export const ACCESS_ROUTE = '/tokens/:account/access'
/** The scope the access route admits (its route config says the same). */
export const ACCESS_SCOPE = 'tokens:read'
export const MAX_MIN_TTL = 3600

const PREFIX = '/tokens/'
const SUFFIX = '/access'
const ACCOUNT_ID = new RegExp(ACCOUNT_ID_PATTERN)
const MIN_TTL_QUERY = /^min_ttl=([0-9]{1,4})$/

export interface FastAccessDeps {
  /** A caller verified earlier with this exact Authorization header, still held; never verifies. */
  knownCaller(header: string, now: number): Caller | undefined
  /** The near cache's answer (counted and audited as the route's), or undefined. */
  cachedAccess(account: string, minTtlSeconds: number, ctx: EventContext): IssuedToken | undefined
  /** Load shedding would refuse, or might: then Fastify's hook decides. */
  underPressure(): boolean
  /** The app is closing: Fastify answers 503. */
  closing(): boolean
  requestId(req: IncomingMessage): string
  /** The access line's logger (the plain one: the line carries no secret). */
  accessLog: Logger
  /** The request-duration histogram's series for GET, this route, 200. */
  observe(seconds: number): void
}

/**
 * The hot route's one common answer, given before Fastify's request lifecycle: a GET of
 * /tokens/<id>/access (no query but `min_ttl`, no body) from a caller verified earlier with the
 * same Authorization header and still held, whose scope and `accounts` claim admit the
 * account, on a route without a rate limit, while the process neither sheds load nor closes,
 * for a token in the near cache. Every check is the one the Fastify route makes; the answer,
 * its headers, the access line, the histogram, the metric and the audit event are the same
 * (test/http/fast-access.test.ts compares them). Anything else, a miss included, goes to
 * Fastify untouched and is answered there in full: this path refuses nothing and writes
 * nothing unless it answers. Returns whether it answered.
 */
export function fastAccess(d: FastAccessDeps, req: IncomingMessage, res: ServerResponse): boolean {
  const start = performance.now()
  if (req.method !== 'GET') return false
  const url = req.url ?? ''
  if (!url.startsWith(PREFIX)) return false
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  if (!path.endsWith(SUFFIX)) return false
  const account = accountOf(path.slice(PREFIX.length, -SUFFIX.length))
  if (account === undefined) return false
  let minTtl = 0
  if (q !== -1) {
    const m = MIN_TTL_QUERY.exec(url.slice(q + 1))
    if (m === null) return false
    minTtl = Number(m[1])
    if (minTtl > MAX_MIN_TTL) return false
  }
  const headers = req.headers
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false
  const authorization = headers.authorization
  if (authorization === undefined) return false
  const caller = d.knownCaller(authorization, Date.now())
  if (caller === undefined || !caller.scopes.has(ACCESS_SCOPE)) return false
  if (caller.accounts !== null && !caller.mayUse(account)) return false
  if (d.closing() || d.underPressure()) return false
  const requestId = d.requestId(req)
  const token = d.cachedAccess(account, minTtl, { sub: caller.sub, requestId })
  if (token === undefined) return false

  const body = JSON.stringify(accessBody(token))
  res.writeHead(200, {
    'x-request-id': requestId,
    'cache-control': 'no-store',
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
  const ms = performance.now() - start
  d.observe(ms / 1000)
  d.accessLog.info({ reqId: requestId, method: 'GET', route: ACCESS_ROUTE, statusCode: 200, ms: Math.round(ms * 10) / 10 }, 'request')
  return true
}

/** The path segment as the router decodes it, when it is a well-formed account id. */
function accountOf(segment: string): string | undefined {
  let account = segment
  if (segment.includes('%')) {
    try {
      account = decodeURIComponent(segment)
    } catch {
      return undefined
    }
  }
  return ACCOUNT_ID.test(account) ? account : undefined
}

/** Puts `fastAccess` ahead of Fastify's own request listener on the app's server. */
export function installFastAccess(server: Server, d: FastAccessDeps): void {
  const listeners = server.listeners('request') as RequestListener[]
  if (listeners.length !== 1) throw new Error(`expected Fastify's one request listener, found ${listeners.length}`)
  const fastify = listeners[0]!
  server.removeListener('request', fastify)
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!fastAccess(d, req, res)) fastify(req, res)
  })
}
