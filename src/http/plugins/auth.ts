import fastifyJwt, { type FastifyJWTOptions } from '@fastify/jwt'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../../config.js'
import type { EventSink } from '../../events/events.js'
import { ForbiddenError, UnauthorizedError } from '../../errors.js'
import { throttled } from '../../log-throttle.js'
import type { AppMetrics } from '../../metrics.js'
import { accountMatcher, type Caller } from '../caller.js'
import { Lru } from '../../lru.js'
import { JwksKeySet } from '../jwks.js'
import { ACCOUNT_ID_PATTERN } from '../schemas/common.js'
import type { Scope } from '../../scopes.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Any one of these scopes admits the caller; absent = public route. */
    scopes?: Scope[]
  }
  interface FastifyRequest {
    caller: Caller | null
  }
  interface FastifyInstance {
    /** A caller verified earlier with this exact Authorization header and still held (no verification). */
    knownCaller(header: string, now: number): Caller | undefined
  }
}

interface Claims {
  sub?: unknown
  scope?: unknown
  accounts?: unknown
  exp?: unknown
}

/** The longest a verified caller is kept without checking its signature again. */
const CALLER_HOLD_MS = 60_000

function admit(request: FastifyRequest, caller: Caller, scopes: readonly Scope[]): Error | undefined {
  request.caller = caller
  return scopes.some((s) => caller.scopes.has(s)) ? undefined : new ForbiddenError(`this route needs scope ${scopes.join(' or ')}`)
}

const ASYMMETRIC = ['RS256', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const
const ACCOUNT_ID = new RegExp(ACCOUNT_ID_PATTERN)

/**
 * Verifies caller JWTs (algorithms pinned per key kind, `sub` and `exp` required,
 * iss/aud when configured; verified tokens cached until exp) and enforces each
 * route's scopes and the `accounts` claim.
 */
export default fp<{ config: Config; events: EventSink; metrics: AppMetrics }>(
  async (app, { config, events, metrics }) => {
    app.register(fastifyJwt, jwtOptions(config, app.log))
    app.decorateRequest('caller', null)

    // Verified callers by the exact Authorization header, until the token's exp (at most
    // CALLER_HOLD_MS, so a key removed from a JWKS stops admitting within that time): a hit
    // skips the signature check and compiles no `accounts` matcher. Only successes are kept.
    const callers = new Lru<Caller>(config.callerCacheSize)
    app.decorate('knownCaller', (header: string, now: number) => callers.get(header, now))
    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      const scopes = request.routeOptions.config.scopes
      if (!scopes) return done()
      const header = request.headers.authorization
      const known = header === undefined ? undefined : callers.get(header, Date.now())
      if (known !== undefined) return done(admit(request, known, scopes))
      verify(request)
        .then((claims) => {
          const caller = toCaller(claims)
          if (typeof claims.exp === 'number') callers.set(header!, caller, Math.min(claims.exp * 1000, Date.now() + CALLER_HOLD_MS))
          return admit(request, caller, scopes)
        })
        .then(done, done)
    })

    // A request without a verified caller costs no durable write: a flood of them must not
    // evict real evidence from the capped audit trail, nor plant entries naming real accounts.
    const warnUnauthenticated = throttled(60_000)
    app.addHook('onError', async (request, _reply, error) => {
      const route = request.routeOptions.url ?? 'unmatched'
      if (error instanceof UnauthorizedError) {
        metrics.unauthenticated.inc({ route })
        warnUnauthenticated((suppressed) => request.log.warn({ client: request.ip, route, suppressed }, 'unauthenticated request refused'))
        return
      }
      if (!(error instanceof ForbiddenError) || !request.caller) return
      // Only a well-formed account id reaches the trail; anything else the client typed is left out.
      const account = (request.params as { account?: unknown } | undefined)?.account
      events.emit({
        event: 'caller.denied',
        sub: request.caller.sub,
        requestId: request.id,
        account: typeof account === 'string' && ACCOUNT_ID.test(account) ? account : undefined,
        outcome: '403',
        detail: route,
      })
    })

    // After validation, so a malformed id is a 400 for everyone.
    // Synchronous: most callers have no `accounts` claim, and then this costs one check.
    app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      const caller = request.caller
      if (!caller?.accounts) return done()
      const account = (request.params as { account?: unknown })?.account ?? (request.body as { account?: unknown })?.account
      if (typeof account === 'string' && !caller.mayUse(account))
        return done(new ForbiddenError(`this caller may not use account ${account}`))
      done()
    })
  },
  { name: 'auth' },
)

async function verify(request: FastifyRequest): Promise<Claims> {
  if (!request.headers.authorization) throw new UnauthorizedError('a bearer token is required')
  try {
    return await request.jwtVerify<Claims>()
  } catch (error) {
    const reason =
      (error as { code?: string }).code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED' ? 'the token has expired' : 'the token is not valid'
    throw new UnauthorizedError(reason)
  }
}

function toCaller(claims: Claims): Caller {
  const { sub, scope, accounts } = claims
  if (typeof sub !== 'string' || sub === '') throw new UnauthorizedError('the token has no sub')
  if (scope !== undefined && typeof scope !== 'string') throw new UnauthorizedError('the scope claim must be a string')
  if (accounts !== undefined && !(Array.isArray(accounts) && accounts.every((a) => typeof a === 'string'))) {
    throw new UnauthorizedError('the accounts claim must be an array of strings')
  }
  const list = accounts as string[] | undefined
  return {
    sub,
    scopes: new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []),
    accounts: list ?? null,
    mayUse: list ? accountMatcher(list) : () => true,
  }
}

function jwtOptions(config: Config, log: FastifyBaseLogger): FastifyJWTOptions {
  const verify = {
    // fast-jwt checks allowedIss/allowedAud only when the claim is present: a configured one is also required.
    requiredClaims: ['sub', 'exp', ...(config.issuer ? ['iss'] : []), ...(config.audience ? ['aud'] : [])],
    cache: true,
    ...(config.issuer ? { allowedIss: config.issuer } : {}),
    ...(config.audience ? { allowedAud: config.audience } : {}),
  }
  const auth = config.callerAuth
  switch (auth.kind) {
    case 'secret':
      return { secret: auth.secret, verify: { ...verify, algorithms: ['HS256'] } }
    case 'public-key':
      return { secret: { public: auth.pem }, verify: { ...verify, algorithms: [auth.algorithm] } }
    case 'jwks': {
      // The key set comes only from the configured URL, never from anything in the token
      // (jku, x5u and jwk headers are ignored); an unknown kid refetches at most once per interval.
      const url = new URL(auth.url)
      const where = url.origin + url.pathname // the query may carry a credential: not logged
      const keys = new JwksKeySet(url, (message) => log.warn({ jwks: where, reason: message }, 'fetching the JWKS failed'))
      return {
        secret: (_request: FastifyRequest, token: { header: { kid?: unknown; alg?: unknown } }) =>
          keys.keyFor(token.header.kid, token.header.alg),
        decode: { complete: true },
        verify: { ...verify, algorithms: [...ASYMMETRIC] },
      } as unknown as FastifyJWTOptions
    }
  }
}
