import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { eventContext } from '../caller.js'
import { AccountParams, ErrorRef, authErrors } from '../schemas/common.js'

const Revoked = Type.Object(
  {
    account: Type.String(),
    revoked: Type.Literal(true),
    provider_revocation: Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('not_supported')]),
  },
  { additionalProperties: false },
)

/** DELETE /tokens/:account — revoke at the provider, then delete the grant. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/tokens/:account',
    {
      config: { scopes: ['tokens:revoke'] },
      schema: {
        summary: 'Revoke the grant at the provider and delete the account',
        tags: ['tokens'],
        params: AccountParams,
        response: { 200: Revoked, ...authErrors, 404: ErrorRef },
      },
    },
    async (request) => app.broker.revokeAccount(request.params.account, eventContext(request)),
  )
}
export default route
