import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import type { IssuedToken } from '../../broker/results.js'
import { eventContext } from '../caller.js'
import { ValidationError } from '../../errors.js'
import { accessBody } from '../views.js'
import { AccountParams, ErrorRef, authErrors } from '../schemas/common.js'
import { AccessQuery } from '../schemas/tokens.js'
import { ACCESS_ROUTE, ACCESS_SCOPE, MAX_MIN_TTL, handedOn } from '../fast-access.js'

const answer = (reply: FastifyReply, token: IssuedToken) => reply.header('cache-control', 'no-store').send(accessBody(token))

/**
 * GET /tokens/:account/access — a usable access token; the hot path. Its most common answers
 * (a known caller, a token that serves as stored or once refreshed) are given ahead of Fastify
 * by fast-access.ts; this route answers everything else, with the store read or the failure
 * fast-access handed on when it did, and every request made through `inject`.
 */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    ACCESS_ROUTE,
    {
      config: { scopes: [ACCESS_SCOPE] },
      schema: {
        summary: 'A usable access token, refreshed first when about to expire',
        tags: ['tokens'],
        params: AccountParams,
        querystring: AccessQuery,
        response: { 200: { $ref: 'AccessToken' }, ...authErrors, 404: ErrorRef, 409: ErrorRef, 502: ErrorRef },
      },
    },
    // Not async: a near-cache hit is answered in the same turn, without a promise or a
    // microtask; anything else returns the broker's promise.
    (request, reply) => {
      const minTtl = Number(request.query.min_ttl)
      if (minTtl > MAX_MIN_TTL) throw new ValidationError(`querystring/min_ttl must be at most ${MAX_MIN_TTL}`)
      const account = request.params.account
      const ctx = eventContext(request)
      // A request fast-access handed on has had its near-cache lookup and its store read, or
      // its refresh, which failed: that failure is this route's answer.
      const prior = handedOn(request.raw)
      if (prior !== undefined && 'failed' in prior) throw prior.failed
      const hit = prior === undefined ? app.broker.cachedAccess(account, minTtl, ctx) : undefined
      if (hit !== undefined) return answer(reply, hit)
      return app.broker.getAccess(account, minTtl, ctx, prior?.read).then((token) => answer(reply, token))
    },
  )
}
export default route
