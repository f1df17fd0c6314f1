import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { eventContext } from '../caller.js'
import { linkPage, PAGE_HEADERS, PAGE_HELMET } from '../link-page.js'
import { toErrorBody } from '../plugins/error-handler.js'
import { ErrorRef, Nullable, Time } from '../schemas/common.js'
import { linkedBody } from '../views.js'

const Param = Type.String({ minLength: 1, maxLength: 4096 })

/**
 * Providers add their own parameters to the redirect (Google: scope, authuser, prompt),
 * so unknown parameters are allowed here, bounded in size, and ignored.
 */
const CallbackQuery = Type.Object(
  {
    // Any state we did not issue, malformed or absent, is simply unknown: INVALID_STATE.
    state: Type.Optional(Type.String({ maxLength: 512 })),
    code: Type.Optional(Param),
    error: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    error_description: Type.Optional(Param),
    iss: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: Type.String({ maxLength: 4096 }), maxProperties: 20 },
)

const Linked = Type.Object(
  {
    account: Type.String(),
    provider: Type.String(),
    status: Type.Literal('linked'),
    scope: Nullable(Type.String()),
    expires_at: Nullable(Time),
  },
  { additionalProperties: false },
)

const wantsJson = (request: FastifyRequest) => /\bapplication\/json\b/.test(request.headers.accept ?? '')
const wantsHtml = (request: FastifyRequest) => /\btext\/html\b/.test(request.headers.accept ?? '')

/** GET /connect/callback — the provider's redirect target; the state authenticates it. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/connect/callback',
    {
      // Security headers on every answer of this route (the HTML pages, and the JSON ones alike).
      helmet: PAGE_HELMET,
      schema: {
        summary: 'OAuth redirect target: exchanges the code and stores the grant',
        tags: ['connect'],
        querystring: CallbackQuery,
        response: {
          200: { content: { 'application/json': { schema: Linked }, 'text/html': { schema: Type.String() } } },
          303: Type.Null({ description: 'Redirect to return_to?account=...&status=linked' }),
          400: ErrorRef,
          404: ErrorRef,
          409: ErrorRef,
          502: ErrorRef,
          503: ErrorRef,
        },
      },
      // Errors are JSON (the contract); a browser that asks for HTML gets a readable page.
      errorHandler: (error: FastifyError, request, reply) => {
        if (!wantsHtml(request) || wantsJson(request)) return app.errorHandler(error, request, reply)
        const body = toErrorBody(error, request)
        if (body.statusCode >= 500) request.log.error({ err: { type: error.name, message: error.message } }, 'link failed')
        return (reply as FastifyReply)
          .code(body.statusCode)
          .headers(PAGE_HEADERS)
          .send(linkPage({ ok: false, title: 'Linking failed', lines: [body.message, `Error code: ${body.code}`] }))
      },
    },
    async (request, reply: FastifyReply) => {
      const { state, code, error, iss } = request.query
      const linked = await app.broker.completeLink({ state, code, error, iss }, eventContext(request))
      const { returnTo } = linked
      if (wantsJson(request)) return reply.header('cache-control', 'no-store').send(linkedBody(linked))
      if (returnTo) {
        const target = new URL(returnTo)
        target.searchParams.set('account', linked.account)
        target.searchParams.set('status', 'linked')
        return reply.code(303).header('location', target.toString()).send()
      }
      return reply.headers(PAGE_HEADERS).send(
        linkPage({
          ok: true,
          title: 'Account linked',
          lines: [
            `Account ${linked.account} is now linked with ${linked.provider}.`,
            linked.scope ? `Granted scope: ${linked.scope}` : 'The provider did not report a scope.',
          ],
        }),
      )
    },
  )
}
export default route
