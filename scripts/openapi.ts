/**
 * Renders openapi.yaml (OpenAPI 3.1) from the route schemas: `npm run openapi`.
 *
 * Every route the app registers is picked up; a route with `config.scopes` is
 * documented as needing a bearer JWT with one of those scopes. test/docs/openapi.test.ts
 * fails when the committed openapi.yaml differs from what this produces.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import swagger from '@fastify/swagger'
import type { FastifySchema } from 'fastify'
import { stringify } from 'yaml'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { ROUTE_DOCS, type RouteDocs } from './openapi-docs.js'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const OPENAPI_FILE = join(ROOT, 'openapi.yaml')

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }

/**
 * A fixed, providers-free config: the document must not depend on the
 * environment, nor on a providers.yaml lying in the working directory.
 */
function docsConfig(): Config {
  const dir = mkdtempSync(join(tmpdir(), 'token-broker-openapi-'))
  try {
    const providersFile = join(dir, 'providers.json')
    writeFileSync(providersFile, '{"providers":{}}')
    return loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent', PROVIDERS_FILE: providersFile })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

type Json = Record<string, unknown>

/**
 * What the document says about one route, on top of its schema: the bearer
 * requirement and accepted scopes for routes with `config.scopes`, query
 * parameters with a default shown as optional, and a description per response.
 */
function describeRoute(
  schema: FastifySchema | undefined,
  scopes: readonly string[] | undefined,
  docs: RouteDocs | undefined,
): FastifySchema {
  const out: FastifySchema = { ...schema }
  if (docs) out.description = docs.description
  if (scopes && scopes.length > 0) {
    const line = `Requires a caller JWT with scope ${scopes.map((s) => `\`${s}\``).join(' or ')}.`
    out.description = typeof out.description === 'string' && out.description !== '' ? `${out.description}\n\n${line}` : line
    out.security = [{ bearerAuth: [] }]
  }
  if (out.querystring) out.querystring = optionalDefaults(out.querystring as Json)
  if (out.response) {
    out.response = Object.fromEntries(
      Object.entries(out.response as Record<string, Json>).map(([status, response]) => {
        if (response.description !== undefined || response['x-response-description'] !== undefined) return [status, response]
        // Next to a $ref swagger reads `description` and drops it from the schema;
        // elsewhere `description` would stay in the schema, so use swagger's own key.
        const key = '$ref' in response ? 'description' : 'x-response-description'
        return [status, { ...response, [key]: STATUS_CODES[status] ?? status }]
      }),
    )
  }
  return out
}

/**
 * TypeBox lists a property with a `default` as required (Ajv's useDefaults fills
 * it in before validation), but a caller may leave it out.
 */
function optionalDefaults(object: Json): Json {
  const properties = object.properties as Record<string, Json> | undefined
  if (!properties || !Array.isArray(object.required)) return object
  const required = (object.required as string[]).filter((name) => properties[name]?.default === undefined)
  const { required: _, ...rest } = object
  return required.length > 0 ? { ...rest, required } : rest
}

/** The OpenAPI document of the app's routes, as YAML; byte-identical from run to run. */
export async function renderOpenApi(): Promise<string> {
  const app = await buildApp(docsConfig(), {
    openapi: async (instance) => {
      await instance.register(swagger, {
        openapi: {
          openapi: '3.1.0',
          info: {
            title: 'token-broker',
            version: pkg.version,
            description:
              'Owns third-party OAuth grants and hands short-lived access tokens to internal services. ' +
              'Generated from the route schemas by `npm run openapi`; docs/api.md describes the behaviour and the ' +
              'guarantees, docs/calling.md how a service calls it.',
          },
          servers: [{ url: 'http://localhost:8080' }],
          components: {
            securitySchemes: {
              bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            },
          },
        },
        // Shared schemas keep their $id as their name under components.schemas.
        refResolver: {
          buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
        },
        transform: ({ schema, url, route }) => ({
          schema: describeRoute(schema, route.config?.scopes, ROUTE_DOCS[`${[route.method].flat()[0]} ${route.url}`]),
          url,
        }),
      })
    },
  })
  try {
    await app.ready()
    return stringify(normalize(withExamples(app.swagger() as Json)), { lineWidth: 0 })
  } finally {
    await app.close()
  }
}

type Operation = { requestBody?: { content?: Record<string, Json> }; responses?: Record<string, { content?: Record<string, Json> }> }

/**
 * The examples of scripts/openapi-docs.ts on the media types of each operation. Added to
 * the document rather than the schemas: next to a `$ref` (shared response bodies) swagger
 * would drop them.
 */
function withExamples(doc: Json): Json {
  const paths = doc.paths as Record<string, Record<string, Operation>>
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const docs = ROUTE_DOCS[`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`]
      if (!docs) continue
      for (const media of Object.values(op.requestBody?.content ?? {})) if (docs.request !== undefined) media.example = docs.request
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const example = docs.responses[Number(status)]
        if (example === undefined) continue
        response.content ??= { [typeof example === 'string' ? 'text/plain' : 'application/json']: {} }
        for (const media of Object.values(response.content)) media.example = example
      }
    }
  }
  return doc
}

const TOP_LEVEL = ['openapi', 'info', 'servers', 'security', 'tags', 'paths', 'components']
const byName = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0)
const sorted = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(byName))

/**
 * The document in a stable, readable order whatever the order routes were
 * registered in: paths, operations, responses and components sorted by name;
 * other maps (properties, ...) keep their schema order, which means something
 * to a reader. Unions of string literals become one `enum`.
 */
function normalize(doc: unknown): Json {
  const d = collapseLiteralUnions(structuredClone(doc)) as Json & {
    paths?: Record<string, Record<string, { responses?: Json }>>
    components?: Record<string, Json>
  }
  if (d.paths) {
    d.paths = sorted(d.paths)
    for (const [path, item] of Object.entries(d.paths)) {
      const ops = sorted(item)
      for (const op of Object.values(ops)) {
        if (op && typeof op === 'object' && op.responses) op.responses = sorted(op.responses)
      }
      d.paths[path] = ops
    }
  }
  if (d.components) d.components = Object.fromEntries(Object.entries(d.components).map(([k, v]) => [k, sorted(v)]))
  const rank = (k: string) => (TOP_LEVEL.includes(k) ? TOP_LEVEL.indexOf(k) : TOP_LEVEL.length)
  return Object.fromEntries(Object.entries(d).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0)))
}

/** `anyOf: [{type: string, enum: [a]}, {type: string, enum: [b]}]` (TypeBox's Union of Literals) → `type: string, enum: [a, b]`. */
function collapseLiteralUnions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(collapseLiteralUnions)
  if (!node || typeof node !== 'object') return node
  const o = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, collapseLiteralUnions(v)])) as Json
  const members = o.anyOf
  if (
    Array.isArray(members) &&
    members.length > 1 &&
    members.every((m: Json) => Object.keys(m).length === 2 && m.type === 'string' && Array.isArray(m.enum) && m.enum.length === 1)
  ) {
    const { anyOf: _, ...rest } = o
    return { ...rest, type: 'string', enum: members.map((m: Json) => (m.enum as unknown[])[0]) }
  }
  return o
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi())
  console.log(`wrote ${OPENAPI_FILE}`)
}
