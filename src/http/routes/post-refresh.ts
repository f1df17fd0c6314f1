import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { eventContext } from '../caller.js'
import { accessBody } from '../views.js'
import { AccountParams, ErrorRef, authErrors } from '../schemas/common.js'
import { SMALL_BODY_LIMIT } from '../body-limits.js'

const RefreshBody = Type.Object(
  {
    rejected_token: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
  },
  { additionalProperties: false },
)

/** POST /tokens/:account/refresh — force a refresh (or get the newer token a peer already fetched). */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokens/:account/refresh',
    {
      bodyLimit: SMALL_BODY_LIMIT,
      config: { scopes: ['tokens:read'] },
      schema: {
        summary: 'Force a refresh; with rejected_token, only when that token is still current',
        tags: ['tokens'],
        params: AccountParams,
        body: RefreshBody,
        response: {
          200: { $ref: 'AccessToken' },
          ...authErrors,
          404: ErrorRef,
          409: ErrorRef,
          413: ErrorRef,
          415: ErrorRef,
          502: ErrorRef,
        },
      },
      // An empty body means "no rejected token", not a validation error.
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request, reply) => {
      const token = await app.broker.forceRefresh(request.params.account, request.body.rejected_token, eventContext(request))
      return reply.header('cache-control', 'no-store').send(accessBody(token))
    },
  )
}
export default route
