import { readFileSync } from 'node:fs'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { RouteNotFoundError } from '../../errors.js'
import { PAGE_HELMET } from '../link-page.js'
import { ErrorRef } from '../schemas/common.js'

/** The console's static files: next to this module's folder in src/ and, copied by `npm run build`, in dist/. */
const CONSOLE_DIR = new URL('../../console/', import.meta.url)
const ASSETS = {
  'console.css': 'text/css',
  'app.js': 'text/javascript',
  'api.js': 'text/javascript',
  'auth.js': 'text/javascript',
  'dom.js': 'text/javascript',
  'accounts.js': 'text/javascript',
  'account.js': 'text/javascript',
  'link.js': 'text/javascript',
  'favicon.svg': 'image/svg+xml',
} as const

/**
 * The HTML pages' headers, with a CSP for a page that runs its own scripts: everything the
 * console loads comes from the broker itself; no inline script or style, no frames.
 */
export const CONSOLE_HELMET = {
  ...PAGE_HELMET,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'connect-src': ["'self'"],
      'img-src': ["'self'"],
      'base-uri': ["'none'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
    },
  },
} as const

const Text = (name: string) => Type.Optional(Type.String({ maxLength: 512, description: `read by the page's script: ${name}` }))
/** What the page reads from its own address; the server ignores it. */
const ConsoleQuery = Type.Object(
  {
    account: Text('the account to show'),
    status: Text('a status filter, or `linked` after linking'),
    provider: Text('a provider filter'),
    cursor: Text('the page of accounts'),
    limit: Text('accounts per page'),
  },
  { additionalProperties: false },
)

const Html = { content: { 'text/html': { schema: Type.String() } } }

/** GET /console (the admin console page) and GET /console/:asset (its CSS and ES modules). */
const route: FastifyPluginAsyncTypebox = async (app) => {
  const read = (name: string) => readFileSync(new URL(name, CONSOLE_DIR))
  const page = read('index.html')
  const assets = new Map(Object.keys(ASSETS).map((name) => [name, read(name)]))

  app.get(
    '/console',
    {
      helmet: CONSOLE_HELMET,
      schema: {
        summary: 'The admin console (HTML); it calls the API with a token kept in the browser',
        tags: ['console'],
        querystring: ConsoleQuery,
        response: { 200: Html, 400: ErrorRef },
      },
    },
    async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page),
  )

  app.get(
    '/console/:asset',
    {
      helmet: CONSOLE_HELMET,
      schema: {
        summary: 'A static file of the admin console',
        tags: ['console'],
        params: Type.Object({ asset: Type.String({ pattern: '^[a-z-]{1,32}\\.(js|css|svg)$' }) }, { additionalProperties: false }),
        response: {
          200: {
            content: {
              'text/css': { schema: Type.String() },
              'text/javascript': { schema: Type.String() },
              'image/svg+xml': { schema: Type.String() },
            },
          },
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const name = request.params.asset
      const body = assets.get(name)
      if (!body) throw new RouteNotFoundError('GET', `/console/${name}`)
      return reply
        .type(`${ASSETS[name as keyof typeof ASSETS]}; charset=utf-8`)
        .header('cache-control', 'no-cache')
        .send(body)
    },
  )
}
export default route
