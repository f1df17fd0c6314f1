import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ListBody, ListQuery } from '../schemas/accounts.js'
import { authErrors } from '../schemas/common.js'

/** GET /accounts — a page of accounts the caller may see. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/accounts', {
    config: { scopes: ['accounts:read'] },
    schema: {
      summary: 'List accounts',
      tags: ['accounts'],
      querystring: ListQuery,
      response: { 200: ListBody, ...authErrors },
    },
  }, async (request) => app.broker.listAccounts({ ...request.query, allowed: request.caller!.mayUse }))
}
export default route
