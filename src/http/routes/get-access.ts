import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { eventContext } from '../caller.js'
import { ValidationError } from '../../errors.js'
import { accessBody } from '../views.js'
import { AccountParams, ErrorRef, authErrors } from '../schemas/common.js'
import { AccessQuery } from '../schemas/tokens.js'

const MAX_MIN_TTL = 3600

/** GET /tokens/:account/access — a usable access token; the hot path. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/tokens/:account/access',
    {
      config: { scopes: ['tokens:read'] },
      schema: {
        summary: 'A usable access token, refreshed first when about to expire',
        tags: ['tokens'],
        params: AccountParams,
        querystring: AccessQuery,
        response: { 200: { $ref: 'AccessToken' }, ...authErrors, 404: ErrorRef, 409: ErrorRef, 502: ErrorRef },
      },
    },
    async (request, reply) => {
      const minTtl = Number(request.query.min_ttl)
      if (minTtl > MAX_MIN_TTL) throw new ValidationError(`querystring/min_ttl must be at most ${MAX_MIN_TTL}`)
      const token = await app.broker.getAccess(request.params.account, minTtl, eventContext(request))
      return reply.header('cache-control', 'no-store').send(accessBody(token))
    },
  )
}
export default route
