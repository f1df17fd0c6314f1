import assert from 'node:assert/strict'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { bearer } from './app.js'

/**
 * Imports a grant through PUT /accounts/:account (provider `stub` unless the body names
 * another) and checks that it landed (201 or 200).
 */
export async function importGrant(
  app: FastifyInstance,
  account: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = bearer(),
): Promise<LightMyRequestResponse> {
  const res = await app.inject({ method: 'PUT', url: `/accounts/${account}`, headers, payload: { provider: 'stub', ...body } })
  assert.ok(res.statusCode === 201 || res.statusCode === 200, `import ${account}: ${res.statusCode} ${res.body}`)
  return res
}

/** GET /tokens/:account/access as a caller with every scope. */
export const getAccess = (app: FastifyInstance, account: string, query = '') =>
  app.inject({ method: 'GET', url: `/tokens/${account}/access${query}`, headers: bearer() })
