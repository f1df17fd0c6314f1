import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { holdsActiveGrant, type ServingRead } from '../broker/get-access.js'
import type { IssuedToken } from '../broker/results.js'
import type { EventContext } from '../events/events.js'
import type { Caller } from './caller.js'
import { ACCOUNT_ID_PATTERN } from './schemas/common.js'
import { accessJson } from './views.js'

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
  /** The route's answer from that read (counted and audited as the route's): a refresh, or the wait for one. */
  getAccess(account: string, minTtlSeconds: number, ctx: EventContext, read: ServingRead): Promise<IssuedToken>
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

/** What the fast path found before handing a request on: its store read, or the refresh's failure. */
export type HandedOn = { read: ServingRead } | { failed: unknown }

/**
 * For each request the fast path handed on: what it found, how long it held it (ms, for the
 * access line and the histogram), and the request id it gave it, which Fastify keeps (an audit
 * event written while the fast path waited names that id, and so must the answer).
 */
const ahead = new WeakMap<IncomingMessage, { found: HandedOn; ms: number; requestId: string }>()

/** What `fastAccess` found for this request, if it handed it on. */
export function handedOn(req: IncomingMessage): HandedOn | undefined {
  return ahead.get(req)?.found
}

/** The request's duration in ms: Fastify's own, plus the time the fast path held it first. */
export function elapsedMs(request: { raw: IncomingMessage }, reply: { elapsedTime: number }): number {
  return reply.elapsedTime + (ahead.get(request.raw)?.ms ?? 0)
}

/** The request id the fast path gave this request, if it handed it on. */
export function idAhead(req: IncomingMessage): string | undefined {
  return ahead.get(req)?.requestId
}

/**
 * The hot route's common answers, given before Fastify's request lifecycle: a GET of
 * /tokens/<id>/access (no query but `min_ttl`, no body) from a caller verified earlier with the
 * same Authorization header and still held, whose scope and `accounts` claim admit the
 * account, on a route without a rate limit, while the process neither sheds load nor closes.
 * A near-cache hit is answered in the same turn; otherwise one store read, and its token when
 * the refresh policy serves it as stored, or, when the read shows a grant to refresh, the
 * token the refresher gives (its own refresh, or another's it waited for). Every check is the
 * one the Fastify route makes; the answer, its headers, the access line, the histogram, the
 * metric and the audit event are the same (test/http/fast-access.test.ts compares them). The
 * waiters of a refresh storm, answered all at once, are answered by the hot path's own code,
 * not by Fastify's lifecycle, which on a busy instance only such a storm would run (cold code,
 * that V8 then compiles on the cores the answers need).
 *
 * Anything else goes to Fastify (`next`) and is answered there in full: a request this path
 * cannot admit, untouched; one whose read shows no grant to refresh (none, reauth, a failed
 * read), with that read, so the route neither reads again nor waits for a second store
 * timeout; one whose refresh failed, with that failure, which the route answers as its own.
 * The time this path held a request counts in its access line and histogram (`elapsedMs`): a
 * read that failed at the store's timeout shows that timeout, a failed refresh its wait. This
 * path refuses nothing itself.
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
        token = undefined // an unreadable stored token: getAccess reports it
      }
      if (token !== undefined) {
        answer(d, res, token, ctx.requestId, start)
        return
      }
      if (!holdsActiveGrant(read)) {
        handOn(req, res, next, { found: { read }, ms: performance.now() - start, requestId: ctx.requestId })
        return
      }
      return d.getAccess(name, minTtl, ctx, read).then(
        (refreshed) => answer(d, res, refreshed, ctx.requestId, start),
        (failed: unknown) => handOn(req, res, next, { found: { failed }, ms: performance.now() - start, requestId: ctx.requestId }),
      )
    })
    // Nothing above is expected to throw; if it does, the request ends here, not the process.
    .catch(() => res.destroy())
}

function handOn(
  req: IncomingMessage,
  res: ServerResponse,
  next: RequestListener,
  held: { found: HandedOn; ms: number; requestId: string },
) {
  ahead.set(req, held)
  next(req, res)
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
  const body = accessJson(token)
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
