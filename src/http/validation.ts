import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

const BASE: Options = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false }

function ajv(options: Options): Ajv {
  const instance = new Ajv({ ...BASE, ...options })
  addFormats.default(instance)
  return instance
}

/**
 * Query strings and path parameters arrive as text and are coerced to their schema's
 * types; JSON bodies are not: `{"access_token": 123}` is a 400, not the string "123".
 */
export function validatorCompiler(shared: object[]): FastifySchemaCompiler<object> {
  const coercing = ajv({ coerceTypes: 'array' })
  const strict = ajv({ coerceTypes: false })
  for (const schema of shared) {
    coercing.addSchema(schema)
    strict.addSchema(schema)
  }
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema)
}
