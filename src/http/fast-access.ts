import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { ServingRead } from '../broker/get-access.js'
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
  /** One store read of the serving fields (never rejects). */
  readForServing(account: string): Promise<ServingRead>
  /** The read's token when it serves as stored (counted and audited as the route's), or undefined. */
  servedAsRead(account: string, read: ServingRead, minTtlSeconds: number, ctx: EventContext): IssuedToken | undefined
  /** Load shedding would refuse, or might: then Fastify's hook decides. */
  underPressure(): boolean
  /** The app is closing: Fastify answers 503. */
  closing(): boolean
  requestId(req: IncomingMessage): string
  /** The access line's logger (the plain one: the line carries no secret), bound to GET, this route and 200. */
  accessLine: Logger
  /** The request-duration histogram's series for GET, this route, 200. */
  observe(seconds: number): void
}

/** Store reads the fast path made and handed on with their request: the route uses them instead of reading again. */
const priorReads = new WeakMap<IncomingMessage, ServingRead>()
/** How long the fast path held each request it handed on (ms), for the access line and the histogram. */
const heldFor = new WeakMap<IncomingMessage, number>()

/** The store read `fastAccess` made for this request, if any (taken once). */
export function takePriorRead(req: IncomingMessage): ServingRead | undefined {
  const read = priorReads.get(req)
  priorReads.delete(req)
  return read
}

/** How long the fast path held this request before Fastify's lifecycle began (ms; 0 if it did not). */
export function heldAhead(req: IncomingMessage): number {
  return heldFor.get(req) ?? 0
}

/**
 * The hot route's common answers, given before Fastify's request lifecycle: a GET of
 * /tokens/<id>/access (no query but `min_ttl`, no body) from a caller verified earlier with the
 * same Authorization header and still held, whose scope and `accounts` claim admit the
 * account, on a route without a rate limit, while the process neither sheds load nor closes.
 * A near-cache hit is answered in the same turn; otherwise one store read, and its token when
 * the refresh policy serves it as stored. Every check is the one the Fastify route makes; the
 * answer, its headers, the access line, the histogram, the metric and the audit event are the
 * same (test/http/fast-access.test.ts compares them).
 *
 * Anything else goes to Fastify (`next`) and is answered there in full: a request this path
 * cannot admit, untouched; one whose read did not serve (no grant, a refresh or backoff to
 * decide, a failed read), with that read handed on (`takePriorRead`), so the route neither
 * reads again nor waits for a second store timeout. The time this path held a request before
 * handing it on counts in its access line and histogram (`heldAhead`): a read that failed
 * after the store's timeout shows that timeout. This path refuses nothing itself.
 */
export function fastAccess(d: FastAccessDeps, req: IncomingMessage, res: ServerResponse, next: RequestListener): void {
  const start = performance.now()
  const account = admitted(d, req)
  if (account === undefined) {
    next(req, res)
    return
  }
  const [name, minTtl, caller] = account
  const ctx = { sub: caller.sub, requestId: d.requestId(req) }
  const hit = d.cachedAccess(name, minTtl, ctx)
  if (hit !== undefined) {
    answer(d, res, hit, ctx.requestId, start)
    return
  }
  d.readForServing(name)
    .then((read) => {
      let token: IssuedToken | undefined
      try {
        token = d.servedAsRead(name, read, minTtl, ctx)
      } catch {
        token = undefined // an unreadable stored token: the route reports it
      }
      if (token !== undefined) {
        answer(d, res, token, ctx.requestId, start)
        return
      }
      priorReads.set(req, read)
      heldFor.set(req, performance.now() - start)
      next(req, res)
    })
    // Nothing above is expected to throw; if it does, the request ends here, not the process.
    .catch(() => res.destroy())
}

/** The account, min_ttl and caller of a request this path may answer; undefined for anything else. */
function admitted(d: FastAccessDeps, req: IncomingMessage): [string, number, Caller] | undefined {
  if (req.method !== 'GET') return undefined
  const url = req.url ?? ''
  if (!url.startsWith(PREFIX)) return undefined
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  if (!path.endsWith(SUFFIX)) return undefined
  const account = accountOf(path.slice(PREFIX.length, -SUFFIX.length))
  if (account === undefined) return undefined
  let minTtl = 0
  if (q !== -1) {
    const m = MIN_TTL_QUERY.exec(url.slice(q + 1))
    if (m === null) return undefined
    minTtl = Number(m[1])
    if (minTtl > MAX_MIN_TTL) return undefined
  }
  const headers = req.headers
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return undefined
  const authorization = headers.authorization
  if (authorization === undefined) return undefined
  const caller = d.knownCaller(authorization, Date.now())
  if (caller === undefined || !caller.scopes.has(ACCESS_SCOPE)) return undefined
  if (caller.accounts !== null && !caller.mayUse(account)) return undefined
  if (d.closing() || d.underPressure()) return undefined
  return [account, minTtl, caller]
}

function answer(d: FastAccessDeps, res: ServerResponse, token: IssuedToken, requestId: string, start: number): void {
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
  d.accessLine.info({ reqId: requestId, ms: Math.round(ms * 10) / 10 }, 'request')
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
  server.on('request', (req: IncomingMessage, res: ServerResponse) => fastAccess(d, req, res, fastify))
}
