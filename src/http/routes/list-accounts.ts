import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ListBody, ListQuery } from '../schemas/accounts.js'
import { authErrors } from '../schemas/common.js'
import { accountBody } from '../views.js'

/** GET /accounts — a page of accounts the caller may see. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/accounts',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        summary: 'List accounts',
        tags: ['accounts'],
        querystring: ListQuery,
        response: { 200: ListBody, ...authErrors },
      },
    },
    async (request) => {
      const page = await app.broker.listAccounts({ ...request.query, allowed: request.caller!.mayUse })
      return { accounts: page.accounts.map(accountBody), next_cursor: page.nextCursor }
    },
  )
}
export default route
