import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AccountId, ErrorRef, ProviderName, Time, authErrors } from '../schemas/common.js'
import { SMALL_BODY_LIMIT } from '../body-limits.js'
import { linkStartedBody } from '../views.js'

const ConnectBody = Type.Object(
  {
    account: AccountId,
    scope: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^[\\x21-\\x7E]+( [\\x21-\\x7E]+)*$' })),
    return_to: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, format: 'uri' })),
    expected_subject: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        pattern: '^[\\x21-\\x7E]+$',
        description:
          'OpenID providers only: the provider `sub` (or verified email) that must complete the link; another identity gets 400 IDENTITY_MISMATCH and nothing is stored',
      }),
    ),
    login_hint: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$', description: 'Passed to the provider as login_hint' }),
    ),
  },
  { additionalProperties: false },
)

const ConnectResponse = Type.Object(
  {
    authorization_url: Type.String(),
    state: Type.String(),
    expires_at: Time,
  },
  { additionalProperties: false },
)

/** POST /connect/:provider — start linking an account (state + PKCE). */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/connect/:provider',
    {
      bodyLimit: SMALL_BODY_LIMIT,
      config: { scopes: ['accounts:write'] },
      schema: {
        summary: 'Start linking an account; returns the provider authorization URL',
        description:
          'The authorization_url is a bearer capability until it is used (10 minutes): whoever opens it first ' +
          'links their provider identity into the account. Hand it only to the person who should consent, over a private ' +
          'channel, and set expected_subject when you know who that is. The caller that started the link and the identity ' +
          'that completed it are logged and audited.',
        tags: ['connect'],
        params: Type.Object({ provider: ProviderName }, { additionalProperties: false }),
        body: ConnectBody,
        response: { 201: ConnectResponse, ...authErrors, 404: ErrorRef, 409: ErrorRef, 413: ErrorRef, 415: ErrorRef, 502: ErrorRef },
      },
    },
    async (request, reply) => {
      const { account, scope, return_to: returnTo, expected_subject: expectedSubject, login_hint: loginHint } = request.body
      const started = await app.broker.startLink({
        provider: request.params.provider,
        account,
        scope,
        returnTo,
        expectedSubject,
        loginHint,
        sub: request.caller!.sub,
        requestId: request.id,
      })
      return reply.code(201).header('cache-control', 'no-store').send(linkStartedBody(started))
    },
  )
}
export default route
