import helmet from '@fastify/helmet'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { createBroker, type Broker } from './broker/index.js'
import { AccessLog } from './http/access-log.js'
import { clientErrorHandler, rejectExpectation } from './http/client-errors.js'
import { lazyChildLogger } from './http/lazy-child-logger.js'
import { validatorCompiler } from './http/validation.js'
import type { Config } from './config.js'
import { KeyRing } from './crypto/key-ring.js'
import authPlugin from './http/plugins/auth.js'
import errorHandler, { frameworkErrors } from './http/plugins/error-handler.js'
import metricsPlugin, { boundSeries } from './http/plugins/http-metrics.js'
import { ACCESS_ROUTE, ACCESS_SCOPE, idAhead, installFastAccess } from './http/fast-access.js'
import { requestId } from './http/request-id.js'
import loadShedding from './http/plugins/load-shedding.js'
import rateLimitPlugin, { scopeLimit } from './http/plugins/rate-limit.js'
import deleteToken from './http/routes/delete-token.js'
import getAccess from './http/routes/get-access.js'
import consoleRoute from './http/routes/console.js'
import getAudit from './http/routes/get-audit.js'
import getCallback from './http/routes/get-callback.js'
import postConnect from './http/routes/post-connect.js'
import getAccount from './http/routes/get-account.js'
import health from './http/routes/health.js'
import listAccounts from './http/routes/list-accounts.js'
import listProviders from './http/routes/list-providers.js'
import metricsRoute from './http/routes/metrics.js'
import postRefresh from './http/routes/post-refresh.js'
import putAccount from './http/routes/put-account.js'
import { AccountBody } from './http/schemas/accounts.js'
import { ErrorBody } from './http/schemas/common.js'
import { AccessBody } from './http/schemas/tokens.js'
import { loggerOptions, plainLoggerOptions, stdoutDestination, type LogDestination } from './logger.js'
import { createMetrics } from './metrics.js'
import { EndpointResolver } from './providers/endpoints.js'
import type { AuditLog } from './events/audit-log.js'
import type { EventSink } from './events/events.js'
import { createEventing } from './events/eventing.js'
import type { WebhookWorker, WebhookWorkerOptions } from './events/webhook-worker.js'
import { createStorage, type Storage } from './store/index.js'
import type { SchedulerOptions } from './broker/refresh/scheduler.js'

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker
    /** Where everything is kept; server.ts connects it, readiness pings it, close() closes it. */
    storage: Storage
    audit: AuditLog
    /** Sends queued webhooks; null without WEBHOOK_URLS. server.ts starts it, close() stops it. */
    webhooks: WebhookWorker | null
  }
}

export interface AppDeps {
  /** The configured Redis (or memory) storage by default; tests share one between apps. */
  storage?: Storage
  keyRing?: KeyRing
  clock?: () => number
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: LogDestination
  /** Where audit events go (the audit stream and webhooks by default). */
  events?: EventSink
  /** Webhook worker timing (tests shorten the backoff). */
  webhooks?: Partial<WebhookWorkerOptions>
  /** Proactive refresh timing (tests shorten it). */
  scheduler?: SchedulerOptions
  /** Register @fastify/swagger before the routes (the openapi script). */
  openapi?: (app: FastifyInstance) => Promise<void>
}

export const BODY_LIMIT = 64 * 1024

/** Wires config and dependencies into an app; never listens (server.ts does). */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const destination = deps.logStream ?? stdoutDestination()
  const loggerInstance = pino(loggerOptions(config.logLevel), destination)
  const accessLog = pino(plainLoggerOptions(config.logLevel), destination)
  const app = Fastify({
    loggerInstance: loggerInstance as FastifyBaseLogger,
    logController: new AccessLog(accessLog),
    bodyLimit: BODY_LIMIT,
    requestIdHeader: false,
    childLoggerFactory: lazyChildLogger,
    // A request the fast path handed on keeps the id it was given there.
    genReqId: (req) => idAhead(req) ?? requestId(req),
    routerOptions: { maxParamLength: 256 },
    // Slow or idle clients cannot hold sockets: the whole request (headers and body) within
    // requestTimeout, headers within headersTimeout (checked every quarter of it), idle
    // keep-alive and idle sockets closed. Parser errors answer in the contract's shape.
    requestTimeout: config.server.requestTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    connectionTimeout: config.server.connectionTimeoutMs,
    http: {
      headersTimeout: config.server.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(config.server.headersTimeoutMs / 4))),
    },
    clientErrorHandler,
    // Router errors (an overlong or malformed URL) in the contract's shape, not Fastify's.
    frameworkErrors,
  })
  app.server.on('checkExpectation', rejectExpectation)
  // First of all hooks, so every answer (401s from auth included) carries the request id.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })

  const storage = deps.storage ?? createStorage(config, deps.clock)
  const keyRing = deps.keyRing ?? (config.encryptionKeys ? new KeyRing(config.encryptionKeys) : KeyRing.ephemeral())
  const metrics = createMetrics()
  const eventing = createEventing({ storage, config, log: loggerInstance, clock: deps.clock, webhooks: deps.webhooks })
  const events = deps.events ?? eventing.sink
  const broker = createBroker(
    {
      store: storage.grants,
      keyRing,
      providers: new Map(config.providers.map((p) => [p.name, p])),
      endpoints: new EndpointResolver(config.providerTimeoutMs, deps.clock),
      clock: deps.clock ?? Date.now,
      log: loggerInstance,
      metrics,
      events,
      settings: {
        refreshSkewSeconds: config.refreshSkewSeconds,
        refreshLockTtlMs: config.refreshLockTtlMs,
        providerTimeoutMs: config.providerTimeoutMs,
        providerConcurrency: config.providerConcurrency,
        backoffMaxMs: config.refreshBackoffMaxSeconds * 1000,
        redirectUri: `${config.publicUrl}/connect/callback`,
        // The console served by this broker may always be the return_to of a link it starts.
        returnToAllowlist: [...config.returnToAllowlist, `${config.publicUrl}/console`],
        accessCache: config.accessCache,
      },
    },
    deps.scheduler,
  )
  app.decorate('broker', broker)
  app.decorate('storage', storage)
  app.decorate('audit', eventing.audit)
  app.decorate('webhooks', eventing.worker)
  app.addHook('onClose', async () => {
    await broker.close()
    await eventing.worker?.stop()
    await eventing.sink.drain() // the last events reach the store before it closes
    await storage.close()
  })

  // Plugins in a fixed order: framework, app-wide, then routes.
  const shared = [ErrorBody, AccountBody, AccessBody]
  for (const schema of shared) app.addSchema(schema)
  app.setValidatorCompiler(validatorCompiler(shared))
  if (deps.openapi) await deps.openapi(app)
  await app.register(errorHandler)
  await app.register(metricsPlugin, { metrics })
  await app.register(loadShedding, { ...config.overload, metrics })
  await app.register(authPlugin, { config, events, metrics })
  await app.register(rateLimitPlugin, { limits: config.rateLimits, counters: storage.rateLimit })

  for (const route of [
    health,
    metricsRoute,
    listProviders,
    listAccounts,
    getAccount,
    getAudit,
    putAccount,
    getAccess,
    postRefresh,
    postConnect,
    deleteToken,
  ]) {
    await app.register(route)
  }
  // The HTML pages, with helmet's hooks in their own context: the JSON routes do not run them.
  // HSTS only over https.
  await app.register(async (pages) => {
    await pages.register(helmet, {
      global: false,
      strictTransportSecurity: new URL(config.publicUrl).protocol === 'https:' ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    })
    await pages.register(getCallback)
    await pages.register(consoleRoute)
  })
  // The hot route's common answers ahead of Fastify's lifecycle, unless a rate limit applies
  // to it (the limiter must count every request).
  if (scopeLimit(config.rateLimits, ACCESS_SCOPE) === 0) {
    let closing = false
    app.addHook('preClose', (done) => {
      closing = true
      done()
    })
    const shedding = app.hasDecorator('isUnderPressure')
    const series = boundSeries(metrics)('GET', ACCESS_ROUTE, 200)
    installFastAccess(app.server, {
      knownCaller: app.knownCaller,
      cachedAccess: (account, minTtl, ctx) => broker.cachedAccess(account, minTtl, ctx),
      readForServing: (account) => broker.readForServing(account),
      servedAsRead: (account, read, minTtl, ctx) => broker.servedAsRead(account, read, minTtl, ctx),
      getAccess: (account, minTtl, ctx, read) => broker.getAccess(account, minTtl, ctx, read),
      underPressure: () => shedding && app.isUnderPressure(),
      closing: () => closing,
      requestId,
      // The line's constant fields are serialized once, as bindings, not on every line.
      accessLine: accessLog.child({ method: 'GET', route: ACCESS_ROUTE, statusCode: 200 }),
      observe: (seconds) => series.observe(seconds),
    })
  }
  return app
}
