import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { eventContext } from '../caller.js'
import { accountBody } from '../views.js'
import { ImportBody } from '../schemas/accounts.js'
import { AccountParams, ErrorRef, authErrors } from '../schemas/common.js'

/** PUT /accounts/:account — import an existing grant. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.put(
    '/accounts/:account',
    {
      config: { scopes: ['accounts:write'] },
      schema: {
        summary: 'Import an existing grant',
        tags: ['accounts'],
        params: AccountParams,
        body: ImportBody,
        response: {
          200: { $ref: 'Account' },
          201: { $ref: 'Account' },
          ...authErrors,
          404: ErrorRef,
          409: ErrorRef,
          413: ErrorRef,
          415: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { created, account } = await app.broker.importAccount(request.params.account, request.body, eventContext(request))
      return reply.code(created ? 201 : 200).send(accountBody(account))
    },
  )
}
export default route
