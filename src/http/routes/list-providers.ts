import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrors } from '../schemas/common.js'
import { ProvidersBody } from '../schemas/providers.js'

/** GET /providers — configured providers, no secrets. */
const route: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/providers',
    {
      config: { scopes: ['accounts:read', 'accounts:write'] },
      schema: { summary: 'Configured providers', tags: ['providers'], response: { 200: ProvidersBody, ...authErrors } },
    },
    async () => ({ providers: app.broker.listProviders() }),
  )
}
export default route
