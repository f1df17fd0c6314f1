import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { accountBody } from '../views.js'
import { AccountParams, ErrorRef, authErrors } from '../schemas/common.js'

/** GET /accounts/:account — metadata, never secrets. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/accounts/:account',
    {
      config: { scopes: ['tokens:read', 'accounts:read'] },
      schema: {
        summary: 'Account metadata',
        tags: ['accounts'],
        params: AccountParams,
        response: { 200: { $ref: 'Account' }, ...authErrors, 404: ErrorRef },
      },
    },
    async (request) => accountBody(await app.broker.getAccount(request.params.account)),
  )
}
export default route
