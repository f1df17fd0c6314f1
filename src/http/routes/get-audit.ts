import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ForbiddenError } from '../../errors.js'
import { AuditBody, AuditQuery } from '../schemas/audit.js'
import { authErrors } from '../schemas/common.js'

/** GET /audit — the audit trail, oldest first, limited to the accounts the caller may use. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/audit',
    {
      config: { scopes: ['accounts:read'] },
      schema: {
        summary: 'Read the audit trail',
        description:
          'Security-relevant events in time order (never a token). `since` and `cursor` pick where a page starts; ' +
          'a caller limited by an `accounts` claim sees only entries about those accounts.',
        tags: ['audit'],
        querystring: AuditQuery,
        response: { 200: AuditBody, ...authErrors },
      },
    },
    async (request) => {
      const caller = request.caller!
      const { account, event, since, limit, cursor } = request.query
      if (account !== undefined && !caller.mayUse(account)) {
        throw new ForbiddenError(`this caller may not use account ${account}`)
      }
      return app.audit.read({
        account,
        event,
        limit,
        cursor,
        since: since === undefined ? undefined : Date.parse(since),
        allowed: caller.accounts ? caller.mayUse : null,
      })
    },
  )
}
export default route
