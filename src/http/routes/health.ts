import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const Status = (value: string) => Type.Object({ status: Type.Literal(value) }, { additionalProperties: false })

/** GET /healthz (the process is alive) and GET /readyz (the store answers). */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: { summary: 'Liveness', tags: ['health'], response: { 200: Status('ok') } },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      schema: { summary: 'Readiness', tags: ['health'], response: { 200: Status('ready'), 503: Status('unavailable') } },
    },
    async (_request, reply) => {
      try {
        await app.storage.ping()
        return { status: 'ready' as const }
      } catch {
        return reply.code(503).send({ status: 'unavailable' as const })
      }
    },
  )
}
export default route
