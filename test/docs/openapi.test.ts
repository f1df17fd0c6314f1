import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { parse } from 'yaml'
import { OPENAPI_FILE, renderOpenApi } from '../../scripts/openapi.js'

interface Operation {
  security?: Array<Record<string, string[]>>
  description?: string
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>
}
interface Document {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, Record<string, unknown>> }
}

const PUBLIC = [
  ['/healthz', 'get'],
  ['/readyz', 'get'],
  ['/metrics', 'get'],
] as const
const SECURED = [
  ['/providers', 'get'],
  ['/accounts', 'get'],
  ['/accounts/{account}', 'get'],
  ['/accounts/{account}', 'put'],
  ['/tokens/{account}/access', 'get'],
] as const

const rendered = await renderOpenApi()
const doc = parse(rendered) as Document

test('the committed openapi.yaml is what `npm run openapi` produces', () => {
  let committed: string
  try {
    committed = readFileSync(OPENAPI_FILE, 'utf8')
  } catch {
    assert.fail('openapi.yaml is missing: run `npm run openapi` and commit the result')
  }
  assert.ok(committed === rendered, 'openapi.yaml is out of date with the route schemas: run `npm run openapi` and commit the result')
})

test('rendering is deterministic', async () => {
  assert.equal(await renderOpenApi(), rendered)
})

test('an OpenAPI 3.1 document describing the routes', () => {
  assert.match(doc.openapi, /^3\.1\./)
  for (const [path, method] of [...PUBLIC, ...SECURED]) {
    assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`)
  }
})

test('routes that need a caller JWT declare bearerAuth, public ones do not', () => {
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  for (const [path, method] of SECURED) {
    const op = doc.paths[path]![method]!
    assert.deepEqual(op.security, [{ bearerAuth: [] }], `${method.toUpperCase()} ${path}`)
    assert.match(op.description ?? '', /scope `[a-z]+:[a-z]+`/, `${method.toUpperCase()} ${path} names its scopes`)
  }
  for (const [path, method] of PUBLIC) {
    assert.equal(doc.paths[path]![method]!.security, undefined, `${method.toUpperCase()} ${path}`)
  }
  assert.equal((doc as { security?: unknown }).security, undefined, 'no document-wide security')
})

test('shared schemas are components, and errors reference Error', () => {
  for (const name of ['Error', 'Account', 'AccessToken']) {
    assert.ok(doc.components.schemas[name], `components.schemas.${name}`)
  }
  for (const [path, method] of SECURED) {
    const responses = doc.paths[path]![method]!.responses
    const errors = Object.keys(responses).filter((status) => Number(status) >= 400)
    assert.ok(errors.includes('401') && errors.includes('403'), `${method.toUpperCase()} ${path} documents 401 and 403`)
    for (const status of errors) {
      assert.equal(
        responses[status]?.content?.['application/json']?.schema?.$ref,
        '#/components/schemas/Error',
        `${method.toUpperCase()} ${path} ${status}`,
      )
    }
  }
})

test('every route has a description and examples, and every example matches its schema', async () => {
  const { Ajv2020 } = await import('ajv/dist/2020.js')
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  const { default: addFormats } = await import('ajv-formats')
  addFormats.default(ajv)
  const check = (schema: unknown, value: unknown, where: string) => {
    // The schema is wrapped with the document's components so its `#/components/...` refs resolve.
    const validate = ajv.compile({ components: doc.components, allOf: [schema] })
    assert.ok(validate(value), `${where}: ${ajv.errorsText(validate.errors)}`)
  }
  type Media = { schema?: unknown; example?: unknown }
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item) as [string, Operation & { requestBody?: { content: Record<string, Media> } }][]) {
      const where = `${method.toUpperCase()} ${path}`
      assert.ok((op.description ?? '').replace(/Requires a caller JWT[^\n]*/, '').trim().length > 20, `${where} has a description`)
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        assert.ok(media.example !== undefined, `${where} has a request example`)
        check(media.schema, media.example, `${where} request ${type}`)
      }
      let examples = 0
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, Media>)) {
          if (media.example === undefined) continue
          examples++
          if (type === 'application/json') check(media.schema, media.example, `${where} ${status}`)
        }
      }
      assert.ok(examples > 0, `${where} has a response example`)
    }
  }
})
