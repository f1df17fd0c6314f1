/** The ceiling: a bare Fastify route answering constant JSON of the access token's shape. */
import Fastify from 'fastify'
import { serve, usage } from '../support/processes.js'

const body = {
  account: 'acct',
  provider: 'p',
  access_token: 'x'.repeat(160),
  token_type: 'Bearer',
  expires_at: '2030-01-01T00:00:00.000Z',
  expires_in: 3600,
  scope: 'openid email',
}
const app = Fastify()
app.get('/const/:account', async () => body)
const url = await app.listen({ port: 0, host: '127.0.0.1' })
serve({ url }, () => usage())
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
